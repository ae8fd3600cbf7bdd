"""aggregate() computed in SQL must equal the same computation done in Python."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import status
from gateway.historian import Bucket, Historian
from tests.historian.conftest import make_settings, sample

STATUSES = [status.GOOD, status.GOOD, status.UNCERTAIN_LAST_USABLE_VALUE, status.BAD_NOT_CONNECTED]
values = st.one_of(
    st.none(),
    st.integers(-10**9, 10**9),
    st.floats(-1e9, 1e9, allow_nan=False),
)
rows = st.lists(st.tuples(st.integers(0, 10_000), values, st.sampled_from(STATUSES)), max_size=60)


def reference(data: list[tuple[int, object, int]], start: int, end: int, b: int) -> list[Bucket]:
    groups: dict[int, list[tuple[int, int, float]]] = {}
    for seq, (ts, v, code) in enumerate(data):
        if v is None or not status.is_good(code) or not start <= ts < end:
            continue
        groups.setdefault(ts - ts % b, []).append((ts, seq, cast(float, v)))  # Python's % floors, also for ts < 0
    out = []
    for start_ns in sorted(groups):
        g = groups[start_ns]
        vs = [v for _, _, v in g]
        out.append(Bucket(start_ns, len(g), min(vs), max(vs), sum(vs) / len(vs), max(g)[2],
                          min(t for t, _, _ in g), max(t for t, _, _ in g)))
    return out


async def run_scenario(path: Path, base: int, data: list[tuple[int, object, int]],
                       start: int, end: int, b: int) -> list[Bucket]:
    async with Historian(make_settings(path)) as h:
        await h.register_series("a/s/p", "xs:double", None)
        await h.append([sample("a/s/p", v, base + ts, code) for ts, v, code in data])
        await h.flush()
        return await h.aggregate("a", "s", "p", base + start, base + end, b)


@settings(max_examples=60, deadline=None)
@given(
    base=st.sampled_from([0, -5_000, 1_700_000_000_000_000_000]),
    data=rows,
    window=st.tuples(st.integers(-100, 10_100), st.integers(-100, 10_100)),
    b=st.integers(1, 4_000),
)
@pytest.mark.slow
def test_aggregate_matches_python(base: int, data: list[tuple[int, object, int]],
                                  window: tuple[int, int], b: int) -> None:
    start, end = window
    with tempfile.TemporaryDirectory() as d:
        got = asyncio.run(run_scenario(Path(d) / "h.sqlite", base, data, start, end, b))
    shifted = [(base + ts, v, code) for ts, v, code in data]
    want = reference(shifted, base + start, base + end, b)
    assert [(x.start_ns, x.count, x.min, x.max, x.last, x.first_ts, x.last_ts) for x in got] == [
        (x.start_ns, x.count, x.min, x.max, x.last, x.first_ts, x.last_ts) for x in want]
    for g, w in zip(got, want, strict=True):
        assert g.avg == pytest.approx(w.avg, rel=1e-9, abs=1e-6)
        assert g.start_ns % b == 0


async def test_aggregate_of_boolean_series(historian: Historian) -> None:
    await historian.register_series("a/s/on", "xs:boolean", None)
    await historian.append([sample("a/s/on", v, t) for t, v in [(0, True), (1, False), (2, True), (10, False)]])
    await historian.flush()
    b1, b2 = await historian.aggregate("a", "s", "on", 0, 20, 10)
    assert (b1.count, b1.min, b1.max, b1.last, b1.avg) == (3, False, True, True, pytest.approx(2 / 3))
    assert (b2.start_ns, b2.count, b2.last) == (10, 1, False)
    with pytest.raises(ValueError):
        await historian.aggregate("a", "s", "on", 0, 20, 0)
