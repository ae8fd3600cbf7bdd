"""The recompute's SQLite fast path gives the per-sample engine's numbers, on messy random data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors import status as st
from gateway.kpi.bulk import bucket_for, bulk_points, feed_bulk
from gateway.kpi.formulas import kpis
from gateway.kpi.recompute import feed_from_historian, recompute
from tests.kpi.harness import ENERGY, GOOD, PRODUCED, SCRAP, STATE, Harness, T, config, kpi_block


# an ideal cycle time of 0.35 s: parts x PRU is not exact in floating point, whatever way the parts are summed
@pytest.mark.parametrize(("seed", "pru"), [(1, 30), (2, 30), (3, 0.35)])
async def test_bulk_recompute_equals_the_per_sample_engine(tmp_path: Path, seed: int, pru: float) -> None:
    rng = random.Random(seed)
    cfg = config(tmp_path, kpi_block(ideal_cycle_time_s=pru), counter_type="xs:unsignedShort")
    h = await Harness(cfg, T(5)).open()
    try:
        values = {PRODUCED: 65000, GOOD: 64000, SCRAP: 10}
        kwh = 100.0
        t = T(5, 30)
        while t < T(23):
            t += rng.randint(5, 240) * 10**9
            late = rng.random() < 0.05  # source time far behind: clamped to arrival - grace
            received = t + (rng.randint(20, 4000) * 10**9 if late else rng.randint(0, 2) * 10**9)
            r = rng.random()
            if r < 0.1:
                await h.sample(STATE, rng.choice(["Running", "Idle", "Setup", "Alarm"]), t, received=received)
            elif r < 0.13:
                p = rng.choice(list(values))
                await h.sample(p, None, t, received=received, status=st.BAD_NOT_CONNECTED)
            elif r < 0.15:
                p = rng.choice(list(values))
                values[p] = rng.randint(0, 5)  # reset
                await h.sample(p, values[p], t, received=received)
            elif r < 0.3:
                kwh = kwh + rng.random() if rng.random() > 0.02 else 1.0  # a register reset, rarely
                await h.sample(ENERGY, round(kwh, 3), t, received=received)
            else:
                p = rng.choice(list(values))
                values[p] = (values[p] + rng.randint(1, 30)) % 2**16  # UInt16 wraps around
                back = rng.random() < 0.05  # source time went backwards: seq order is not source time order
                await h.sample(p, values[p], t - rng.randint(60, 900) * 10**9 if back else t, received=received)
        await h.historian.flush()
        start, end = T(6), T(22)
        fast = await recompute(h.kpi, h.historian, ["shift", "hour"], start, end)
        assert bucket_for([x for r in fast for x in (r.window.start, r.window.end)]) == 3600 * 10**9
        slow_engine = h.kpi.engine()
        await feed_from_historian(slow_engine, h.historian, start, end + slow_engine.grace_ns)
        assert len(fast) == 2 + 16
        for res in fast:
            slow = kpis(slow_engine.totals(res.window, res.window.end))
            assert kpis(res.totals) == slow, res.window
        assert any(kpis(res.totals)["ProducedQuantity"] for res in fast)
        engine = h.kpi.engine()  # and the fast path took every counter and the register
        assert await feed_bulk(engine, h.historian, start, end + engine.grace_ns, 3600 * 10**9) == bulk_points(engine)
    finally:
        await h.close()


async def _assert_equal(h: Harness, start: int, end: int) -> set[str]:
    """Recompute [start, end) by shift and hour both ways; the points the fast path took."""
    fast = await recompute(h.kpi, h.historian, ["shift", "hour"], start, end)
    slow_engine = h.kpi.engine()
    await feed_from_historian(slow_engine, h.historian, start, end + slow_engine.grace_ns)
    for res in fast:
        assert kpis(res.totals) == kpis(slow_engine.totals(res.window, res.window.end)), res.window
    assert any(kpis(res.totals)["ProducedQuantity"] for res in fast)
    engine = h.kpi.engine()
    return await feed_bulk(engine, h.historian, start, end + engine.grace_ns, 3600 * 10**9)


async def test_values_text_cannot_carry_exactly_take_the_per_sample_path(tmp_path: Path) -> None:
    """Fractional counter readings, NaN and infinity on the register: those points are fed sample by sample
    (and the numbers stay the per-sample engine's); a late row just before the window does the same for
    one counter only, without counting the others twice."""
    h = await Harness(config(tmp_path, counter_type="xs:double"), T(5)).open()
    try:
        t, good, scrap, kwh = T(5, 50), 0.0, 0, 10.0
        await h.sample(SCRAP, 0, T(4, 30), received=T(6, 30))  # read before the window, counts at 06:29:50
        while t < T(9):
            t += 60 * 10**9
            good += 0.25  # metres of good material
            await h.sample(GOOD, good, t)
            await h.sample(PRODUCED, int(good * 4), t)
            if t % (600 * 10**9) == 0:
                scrap += 1
                await h.sample(SCRAP, scrap, t)
            kwh += 0.1
            value = float("nan") if t == T(7, 30) else float("inf") if t == T(8, 10) else round(kwh, 1)
            await h.sample(ENERGY, value, t)
            if t % (1800 * 10**9) == 0:
                await h.sample(STATE, "Running" if t % (3600 * 10**9) else "Idle", t)
        await h.historian.flush()
        fed = await _assert_equal(h, T(6), T(9))
        assert fed == {PRODUCED}
    finally:
        await h.close()
