"""Golden datasets: scripted shifts with hand-computed ISO 22400-2 KPIs, live and recomputed.

Every scenario runs the real pipeline, historian and KPI producer on a fake clock (tests/kpi/harness),
lets the producer close the shift as it would live (published once to ProductionKPIs/LastShift,
stored in the historian), then recomputes the same shift from the historian with the CLI's
recompute. Both must match the numbers worked out by hand below: ratios within 0.1 percentage
point, times to the second, quantities exactly; and live must equal recomputed exactly.

The common plan (Asia/Seoul, Monday 2026-12-07): Early 06:00-14:00 with a break 10:00-10:30,
so planned busy time PBT = 7.5 h = 27000 s; Late 14:00-22:00 without a break (28800 s).
Ideal cycle time PRU = 30 s. Counters (UInt32) stand at produced 1000, good 990, scrap 10
before the shift; the energy register at 5000 kWh.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from connectors import status as st
from gateway.kpi.formulas import kpis
from gateway.kpi.recompute import recompute
from tests.kpi.harness import ENERGY, GOOD, PRODUCED, SCRAP, STATE, Harness, T, config

EARLY, LATE = T(6), T(14)
PBT_EARLY = 27000


async def baseline(h: Harness, state: str = "Running") -> None:
    await h.sample(STATE, state, T(5, 50))
    await h.sample(PRODUCED, 1000, T(5, 50))
    await h.sample(GOOD, 990, T(5, 50))
    await h.sample(SCRAP, 10, T(5, 50))
    await h.sample(ENERGY, 5000.0, T(5, 50))


async def counters(h: Harness, t: int, produced: int, good: int, scrap: int) -> None:
    await h.sample(PRODUCED, produced, t)
    await h.sample(GOOD, good, t)
    await h.sample(SCRAP, scrap, t)


def check(expected: Mapping[str, float | None], got: Mapping[str, Any], what: str) -> None:
    for key, want in expected.items():
        have = got.get(key)
        if want is None:
            assert have is None, f"{what}: {key} should be undefined, is {have!r}"
            continue
        assert have is not None, f"{what}: {key} missing (expected {want})"
        if key.endswith("Time") or key in ("MTBF", "MTTR"):
            assert abs(have - want) < 1.0, f"{what}: {key} = {have} s, expected {want} s"
        elif key.endswith("Quantity") or key in ("DownPeriods",):
            assert have == want, f"{what}: {key} = {have}, expected {want}"
        else:
            assert abs(have - want) < 0.001, f"{what}: {key} = {have}, expected {want} (0.1 pp)"


async def live_and_recomputed(h: Harness, group: str, start: int, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    live = await h.closed(group, start)
    assert live, f"nothing published for {group} at {start}"
    results = await recompute(h.kpi, h.historian, [kind], start, start + 1)
    assert len(results) == 1
    again = kpis(results[0].totals)
    for key, value in again.items():  # identical, not just close: the same engine on the same samples
        if key in live and key not in ("PlannedRuntimePerItem",):
            assert live[key] == value, f"{group}.{key}: live {live[key]!r} != recomputed {value!r}"
    return live, again


async def run_shift(h: Harness, until: int = T(14, 0, 30)) -> None:
    await h.run_until(until)


@pytest.fixture
async def harness(tmp_path: Path) -> Any:
    h = await Harness(config(tmp_path), T(5, 45)).open()
    yield h
    await h.close()


async def test_micro_stops(harness: Harness) -> None:
    h = harness
    await baseline(h)
    for minute in (0, 20, 40):  # six stops of 45 s: 07:00, 07:20, 07:40, 08:00, 08:20, 08:40
        for hour in (7, 8):
            await h.run_until(T(hour, minute))
            await h.sample(STATE, "Idle", T(hour, minute))
            await h.sample(STATE, "Running", T(hour, minute, 45))
    await h.sample(ENERGY, 5060.25, T(10, 0, 5))
    await counters(h, T(13, 59), 1850, 1830, 20)
    await h.sample(ENERGY, 5120.5, T(13, 59, 30))
    await run_shift(h)
    # ADET = 6 x 45 = 270 s; APT = 27000 - 270 = 26730 s
    # PQ = 850, GQ = 840, SQ = 10; energy 120.5 kWh
    expected = {
        "PlannedBusyTime": 27000, "ActualProductionTime": 26730, "ActualUnitDelayTime": 270,
        "ActualUnitDownTime": 0, "ActualUnitSetupTime": 0, "UnknownTime": 0,
        "Availability": 0.99,  # 26730 / 27000
        "Effectiveness": 0.953984,  # 30 x 850 / 26730
        "QualityRatio": 0.988235,  # 840 / 850
        "OEE": 0.933333,  # 0.99 x 0.953984 x 0.988235 (= 30 x 840 / 27000)
        "TechnicalEfficiency": 0.99,  # 26730 / (26730 + 270)
        "UtilizationEfficiency": 0.99,  # APT / AUBT = 26730 / 27000
        "AllocationEfficiency": 1.0,  # AUBT / PBT
        "ScrapRatio": 0.011765,  # 10 / 850
        "ThroughputRate": 113.333333,  # 850 parts / 7.5 h
        "ProducedQuantity": 850, "GoodQuantity": 840, "ScrapQuantity": 10,
        "DownPeriods": 0, "MTBF": None, "MTTR": None,
        "EnergyConsumption": 120.5, "EnergyPerGoodPart": 0.143452,  # 120.5 / 840
        "Coverage": 1.0,
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(expected, live, "live")
    check(expected, again, "recomputed")
    assert live["Name"] == "2026-12-07 Early"


async def test_a_setup(harness: Harness) -> None:
    h = harness
    await baseline(h, state="Setup")
    await h.sample(STATE, "Running", T(6, 40))
    await counters(h, T(13, 59), 1800, 1790, 10)
    await run_shift(h)
    # ASUT = 06:00-06:40 = 2400 s; APT = 27000 - 2400 = 24600 s; PQ 800, GQ 800 (no new scrap)
    expected = {
        "ActualUnitSetupTime": 2400, "ActualProductionTime": 24600,
        "Availability": 0.911111,  # 24600 / 27000
        "SetupRate": 0.088889,  # 2400 / (24600 + 2400)
        "Effectiveness": 0.975610,  # 30 x 800 / 24600
        "QualityRatio": 1.0, "ScrapRatio": 0.0,
        "OEE": 0.888889,  # 30 x 800 / 27000
        "NEE": 0.975610,  # AUPT / PBT x E x Q = 1.0 x 0.975610 x 1
        "UtilizationEfficiency": 0.911111,  # APT / AUBT = 24600 / (24600 + 2400)
        "AllocationEfficiency": 1.0,  # AUBT / PBT
        "ProducedQuantity": 800, "GoodQuantity": 800, "ScrapQuantity": 0,
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(expected, live, "live")
    check(expected, again, "recomputed")


async def test_a_scrap_burst(harness: Harness) -> None:
    h = harness
    await baseline(h)
    await counters(h, T(9), 1300, 1285, 15)
    for i in range(10):  # 40 scrapped parts within ten minutes
        await counters(h, T(11, i), 1300 + 4 * (i + 1), 1285, 15 + 4 * (i + 1))
    await counters(h, T(13, 59), 1900, 1840, 60)
    await run_shift(h)
    # PQ = 900, SQ = 50, GQ = 850
    expected = {
        "ProducedQuantity": 900, "ScrapQuantity": 50, "GoodQuantity": 850,
        "QualityRatio": 0.944444,  # 850 / 900
        "ScrapRatio": 0.055556,  # 50 / 900
        "Availability": 1.0,
        "Effectiveness": 1.0,  # 30 x 900 / 27000
        "OEE": 0.944444,
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(expected, live, "live")
    check(expected, again, "recomputed")


async def test_a_shift_boundary_inside_a_down_period(harness: Harness) -> None:
    h = harness
    await baseline(h)
    await counters(h, T(13, 30), 1800, 1790, 10)
    await h.run_until(T(13, 40))
    await h.write("OperatorInputs.DowntimeReason", "M07-hydraulics")
    await h.sample(STATE, "Alarm", T(13, 40))
    await h.run_until(T(14, 25))
    await h.sample(STATE, "Running", T(14, 25))
    await h.write("OperatorInputs.DowntimeReason", "")
    await counters(h, T(21, 50), 2700, 2690, 10)
    await h.run_until(T(22, 0, 30))
    # Early: ADOT 13:40-14:00 = 1200 s, one down period; APT = 27000 - 1200 = 25800
    early = {
        "ActualUnitDownTime": 1200, "DownPeriods": 1, "MTTR": 1200, "MTBF": 25800,
        "ActualProductionTime": 25800, "Availability": 0.955556,  # 25800 / 27000
        "ProducedQuantity": 800, "Effectiveness": 0.930233,  # 30 x 800 / 25800
    }
    # Late: ADOT 14:00-14:25 = 1500 s (the same failure, its part in this shift); APT = 28800 - 1500
    late = {
        "PlannedBusyTime": 28800, "ActualUnitDownTime": 1500, "DownPeriods": 1, "MTTR": 1500, "MTBF": 27300,
        "ActualProductionTime": 27300, "Availability": 0.947917,  # 27300 / 28800
        "ProducedQuantity": 900, "Effectiveness": 0.989011,  # 30 x 900 / 27300
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(early, live, "live Early")
    check(early, again, "recomputed Early")
    live, again = await live_and_recomputed(h, "LastShift", LATE, "shift")
    check(late, live, "live Late")
    check(late, again, "recomputed Late")
    # the operator's reason is attributed the down time in both shifts
    results = await recompute(h.kpi, h.historian, ["shift"], EARLY, LATE + 1)
    assert [r.totals.down_by_reason for r in results] == [{"M07-hydraulics": 1200 * 10**9},
                                                          {"M07-hydraulics": 1500 * 10**9}]


async def test_a_counter_reset_mid_shift(harness: Harness) -> None:
    h = harness
    await baseline(h)
    await counters(h, T(9), 1400, 1385, 15)
    await counters(h, T(9, 5), 0, 0, 0)  # ResetCounters on the machine
    await counters(h, T(13, 59), 300, 295, 5)
    await run_shift(h)
    # PQ = (1400 - 1000) + 300 = 700; GQ = 395 + 295 = 690; SQ = 5 + 5 = 10
    expected = {
        "ProducedQuantity": 700, "GoodQuantity": 690, "ScrapQuantity": 10,
        "QualityRatio": 0.985714,  # 690 / 700
        "Effectiveness": 0.777778,  # 30 x 700 / 27000
        "OEE": 0.766667,  # 1 x 0.777778 x 0.985714 (= 30 x 690 / 27000)
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(expected, live, "live")
    check(expected, again, "recomputed")


async def test_a_counter_wraps_around(tmp_path: Path) -> None:
    h = await Harness(config(tmp_path), T(5, 45)).open()
    try:
        await h.sample(STATE, "Running", T(5, 50))
        await counters(h, T(5, 50), 2**32 - 100, 2**32 - 100, 0)
        await counters(h, T(9), 2**32 - 1, 2**32 - 1, 0)
        await counters(h, T(13, 59), 500, 500, 0)  # UInt32 wrapped: 99 + 1 + 500 = 600 parts
        await run_shift(h)
        live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
        expected = {"ProducedQuantity": 600, "GoodQuantity": 600, "Effectiveness": 0.666667}  # 30 x 600 / 27000
        check(expected, live, "live")
        check(expected, again, "recomputed")
    finally:
        await h.close()


async def test_a_gateway_restart_mid_shift(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    h = await Harness(cfg, T(5, 45)).open()
    await baseline(h)
    await counters(h, T(8, 30), 1300, 1290, 10)
    await h.run_until(T(8, 59, 59), every_s=600)
    await h.sample(ENERGY, 5050.0, T(8, 59, 59))  # the last thing stored before the crash
    await h.close()  # the gateway dies at 09:00 (nothing is closed or sent on the way down)

    h = Harness(cfg, T(9, 20))  # ... and starts again at 09:20
    await h.open()
    try:
        # the subscription's first notification: the state's source time is when it last changed (05:50)
        await h.sample(STATE, "Running", T(5, 50), received=T(9, 20, 1))
        await counters(h, T(9, 19), 1340, 1330, 10)  # 40 parts made while the gateway was down
        await counters(h, T(13, 59), 1900, 1890, 10)
        await run_shift(h)
        # unknown: 08:59:59 (last alive) to 09:20:00 (restart) = 1201 s; APT = 27000 - 1201 = 25799
        expected = {
            "UnknownTime": 1201, "ActualProductionTime": 25799, "PlannedBusyTime": 27000,
            "Availability": 0.955519,  # 25799 / 27000
            "Coverage": 0.955519,  # 1 - 1201 / 27000
            "ProducedQuantity": 900, "GoodQuantity": 900,
            "Effectiveness": 1.046552,  # 30 x 900 / 25799: parts made while unknown count, their time does not
            "ActualUnitDownTime": 0,
        }
        live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
        check(expected, live, "live")
        check(expected, again, "recomputed")
        down_since = await h.historian.latest(h.kpi.kpi_point("Engine.GatewayDownSince"))
        assert down_since is not None and down_since.ts == T(9, 20)
    finally:
        await h.close()


async def test_a_disconnection_mid_shift(harness: Harness) -> None:
    h = harness
    await baseline(h)
    await counters(h, T(10, 50), 1500, 1490, 10)
    await h.run_until(T(11))
    for p in (STATE, PRODUCED, GOOD, SCRAP):  # the machine drops off the network
        await h.sample(p, None, T(11), status=st.BAD_NOT_CONNECTED)
    await h.run_until(T(11, 10))
    # reconnected: initial notifications carry the time the values last changed
    await h.sample(STATE, "Running", T(5, 50), received=T(11, 10))
    await counters(h, T(11, 9, 30), 1550, 1540, 10)
    await counters(h, T(13, 59), 1900, 1890, 10)
    await run_shift(h)
    # unknown 11:00:00 until the state is known again at 11:10:00 - 10 s grace = 11:09:50: 590 s
    expected = {
        "UnknownTime": 590, "ActualProductionTime": 26410,
        "Availability": 0.978148,  # 26410 / 27000
        "ProducedQuantity": 900, "GoodQuantity": 900,
        "Effectiveness": 1.022340,  # 30 x 900 / 26410
        "ActualUnitDownTime": 0,
    }
    live, again = await live_and_recomputed(h, "LastShift", EARLY, "shift")
    check(expected, live, "live")
    check(expected, again, "recomputed")
