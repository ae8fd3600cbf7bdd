"""Micro-benchmark of the live model's hot path: one sample into one scalar Property.

Every sample of every point ends in `aas_models.live.Live.set` (what `set_live_value` calls, with the
element's qualifiers resolved once per point). The type-mapping work (issue 9,
point 4) made the live model handle lists, collections and multi-language properties too, with the
promise that the plain scalar Property path stays as fast as it was. This script measures it against
`baseline_set_live_value`, the function as it was before that change (copied verbatim below), in the
same process, on the very same Property objects and values, in alternating rounds; the median
per-call time, the ratio of the medians and the median of the per-round ratios are reported. It
also times the new kinds (a 100-item Double[] list, a LocalizedText, a 6-field structure).

    python benchmarks/live_value.py                 # 7 rounds of 200,000 calls each
    python benchmarks/live_value.py --rounds 3 --calls 50000

Results go to benchmarks/results/live_value.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from basyx.aas import model  # noqa: E402
from machine import machine_info, wait_quiet  # noqa: E402  (benchmarks/machine.py)

from aas_models import live  # noqa: E402
from aas_models.builder import build_asset  # noqa: E402
from aas_models.datatypes import coercer  # noqa: E402
from aas_models.spec import AssetSpec, PointSpec  # noqa: E402
from connectors import status as st  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "live_value.json"
# the baseline reads these as module globals, as the original did
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEVERITY = st.SEVERITY_NAMES
BAD_MASK = st.BAD_MASK
STATUS_BAD_TYPE_MISMATCH = st.BAD_TYPE_MISMATCH


def attach(prop: model.Property) -> None:
    """What `live.attach` did at commit 65cf152: the handles cached as attributes on the Property."""
    h = live.attach(prop)
    prop._q_ts, prop._q_status, prop._q_quality = h.q_ts, h.q_status, h.q_quality  # type: ignore[attr-defined]
    prop._convert = h.convert  # type: ignore[attr-defined]


def baseline_set_live_value(prop: model.Property, value: Any, source_ts_ns: int | None, status: int) -> None:
    """`set_live_value` before the type-mapping change (commit 65cf152), verbatim."""
    try:
        q_ts: model.Qualifier = prop._q_ts  # type: ignore[attr-defined]
    except AttributeError:
        attach(prop)
        q_ts = prop._q_ts  # type: ignore[attr-defined]
    if not status & BAD_MASK:
        conv = prop._convert  # type: ignore[attr-defined]
        try:
            prop.value = value if conv is None else conv(value)
        except (TypeError, ValueError, ArithmeticError):
            status = STATUS_BAD_TYPE_MISMATCH
    q_ts.value = None if source_ts_ns is None else _EPOCH + timedelta(microseconds=source_ts_ns // 1000)
    prop._q_status.value = f"0x{status:08X}"  # type: ignore[attr-defined]
    prop._q_quality.value = _SEVERITY[(status >> 30) & 3]  # type: ignore[attr-defined]


def _elements(types: dict[str, str]) -> dict[str, Any]:
    points = tuple(PointSpec(f"B/OperationalData/{n}", "OperationalData", n, t) for n, t in types.items())
    spec = AssetSpec("urn:bench:aas:B", "B", "urn:bench:asset:B", points)
    m = build_asset(spec)
    return {pid.rsplit("/", 1)[1]: el for pid, el in m.properties.items()}


def _time_calls(fn: Callable[..., None], targets: list[tuple[Any, Any]], calls: int) -> float:
    """Mean seconds per call of fn(element, value, ts, 0) over `calls` calls cycling through `targets`."""
    n = len(targets)
    ts = 1_700_000_000_000_000_000
    t0 = time.perf_counter()
    for i in range(calls):
        el, v = targets[i % n]
        fn(el, v, ts + i, 0)
    return (time.perf_counter() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    scalars = {"D": "xs:double", "I": "xs:int", "S": "xs:string", "T": "xs:dateTime"}
    values = {"D": 21.5, "I": 7, "S": "Running", "T": coercer("xs:dateTime")("2026-01-01T00:00:00Z")}
    els = _elements(scalars)
    targets = [(els[k], values[k]) for k in scalars]  # the same objects for both: no layout differences
    handles = [(live.attach(el), v) for el, v in targets]  # what the pipeline's live-model sink holds per point
    for el, _v in targets:  # attach outside the clock
        attach(el)

    load = wait_quiet(30)
    cur_runs: list[float] = []
    base_runs: list[float] = []
    for r in range(args.rounds):  # alternating, the order flipping each round
        pair: list[tuple[str, Callable[..., None], list[tuple[Any, Any]]]] = [
            ("b", baseline_set_live_value, targets), ("c", live.Live.set, handles)]
        for tag, fn, on in pair if r % 2 == 0 else reversed(pair):
            (base_runs if tag == "b" else cur_runs).append(_time_calls(fn, on, args.calls))
    cur, base = statistics.median(cur_runs), statistics.median(base_runs)
    # the machine's load drifts between rounds; the ratio within each round does not see that drift
    paired = statistics.median(c / b for c, b in zip(cur_runs, base_runs, strict=True))

    kinds = {"Arr": "Double[]", "Text": "LocalizedText", "Struct": "Structure"}
    rich = _elements(kinds)
    struct = {"Speed": 1.5, "Count": 3, "Name": "x", "On": True, "Pos": [1.0, 2.0], "Label": "y"}
    rich_values = {"Arr": [float(i) for i in range(100)], "Text": "Läuft", "Struct": struct}
    rich_times = {}
    for k, t in kinds.items():
        v = coercer(t)(rich_values[k])
        el = rich[k]
        h = live.attach(el)
        h.set(v, 0, 0)
        assert el.get_qualifier_by_type(live.Q_STATUS_CODE).value == "0x00000000", k
        n = max(1000, args.calls // 100)
        rich_times[t] = round(statistics.median(_time_calls(live.Live.set, [(h, v)], n)
                                                for _ in range(3)) * 1e6, 2)

    doc = {
        "benchmark": "live_value",
        "what": "seconds per Live.set call (set_live_value's hot path) on scalar Properties (xs:double, xs:int, "
                "xs:string, xs:dateTime in turn), Good status, vs the pre-change function in the same process",
        "rounds": args.rounds,
        "calls_per_round": args.calls,
        "machine_busy_cores_before": load,
        "scalar_us_per_call": {"current": round(cur * 1e6, 3), "baseline": round(base * 1e6, 3),
                               "ratio_current_to_baseline": round(cur / base, 3),
                               "median_ratio_within_rounds": round(paired, 3)},
        "scalar_runs_us": {"current": [round(x * 1e6, 3) for x in cur_runs],
                           "baseline": [round(x * 1e6, 3) for x in base_runs]},
        "rich_kinds_us_per_call": rich_times,
        "machine": machine_info(["basyx-python-sdk"]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: doc[k] for k in ("scalar_us_per_call", "rich_kinds_us_per_call")}, indent=2))


if __name__ == "__main__":
    main()
