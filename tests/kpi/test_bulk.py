"""The recompute's SQLite fast path gives the per-sample engine's numbers, on messy random data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors import status as st
from gateway.kpi.bulk import bucket_for
from gateway.kpi.formulas import kpis
from gateway.kpi.recompute import feed_from_historian, recompute
from tests.kpi.harness import ENERGY, GOOD, PRODUCED, SCRAP, STATE, Harness, T, config


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_bulk_recompute_equals_the_per_sample_engine(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    h = await Harness(config(tmp_path, counter_type="xs:unsignedShort"), T(5)).open()
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
                await h.sample(p, values[p], t, received=received)
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
    finally:
        await h.close()
