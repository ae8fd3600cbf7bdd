"""DataValue decoding alone: the gateway's Part 6 codec against an older version of it, in one process.

The ingest path (benchmarks/ingest_path.py) moves by +-15 % between rounds on a shared machine: too
much to see what a faster decoder gives. This times the decoder alone on DataValues shaped like what
each stack sends (node-opcua: Double, both timestamps and picoseconds; asyncua's simulators: Double,
both timestamps, no status), alternating the two decoders in every round; the figure is CPU time per
DataValue and the ratio after / before (median of the rounds).

    git show HEAD:connectors/opcua/codec.py > /tmp/codec_before.py
    python benchmarks/datavalue_decode.py --before /tmp/codec_before.py
"""
# asyncua annotates its structures with NewType aliases; plain ints and datetimes are right at run time
# mypy: disable-error-code="arg-type"

from __future__ import annotations

import argparse
import importlib.util
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
from asyncua import ua  # noqa: E402
from asyncua.common.utils import Buffer  # noqa: E402

from connectors.opcua import codec  # noqa: E402


def samples(stack: str, n: int) -> list[bytes]:
    t0 = datetime.now(UTC)
    out = []
    for i in range(n):
        if stack == "nodeopcua":
            ts = t0 + timedelta(milliseconds=i // 100)
            dv = ua.DataValue(ua.Variant(float(i), ua.VariantType.Double), SourceTimestamp=ts, ServerTimestamp=ts,
                              SourcePicoseconds=(i % 100) * 10, ServerPicoseconds=(i % 100) * 10)
        else:
            dv = ua.DataValue(ua.Variant(float(i), ua.VariantType.Double), SourceTimestamp=t0, ServerTimestamp=t0)
        dv.StatusCode = None
        out.append(codec.datavalue_to_binary(dv))
    return out


def load(path: Path) -> Callable[[Any], Any]:
    spec = importlib.util.spec_from_file_location("codec_before", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # its install() finds the override installed and does nothing
    return mod.datavalue_from_binary


def time_one(decode: Callable[[Any], Any], blobs: list[bytes]) -> float:
    bufs = [Buffer(b) for b in blobs]
    t0 = time.process_time()
    for b in bufs:
        decode(b)
    return (time.process_time() - t0) / len(blobs) * 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="an older connectors/opcua/codec.py")
    ap.add_argument("--values", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "datavalue_decode.json")
    args = ap.parse_args()
    decoders = {"after": codec.datavalue_from_binary, "before": load(args.before)}
    result: dict[str, Any] = {"benchmark": "datavalue_decode", "values_per_round": args.values, "stacks": {}}
    for stack in ("asyncua", "nodeopcua"):
        blobs = samples(stack, args.values)
        a, b = (decoders[k](Buffer(blobs[7])) for k in ("after", "before"))
        assert a == b, (a, b)
        rounds = []
        for i in range(args.rounds):
            order = ("after", "before") if i % 2 == 0 else ("before", "after")
            rounds.append({k: time_one(decoders[k], blobs) for k in order})
        ratio = statistics.median(r["after"] / r["before"] for r in rounds)
        result["stacks"][stack] = {
            "median_before_ns": round(statistics.median(r["before"] for r in rounds)),
            "median_after_ns": round(statistics.median(r["after"] for r in rounds)),
            "median_ratio_after_over_before": round(ratio, 3)}
        print(stack, result["stacks"][stack], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
