"""The KPI engine's parts on their own: config errors, calendar, iCalendar, state categories, counters, timing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigError, load_config, parse_config
from gateway.kpi.calendar import ProductionCalendar, from_ns, to_ns
from gateway.kpi.categories import BAD, Classifier
from gateway.kpi.config import CalendarConfig, StateConfig
from gateway.kpi.counters import CounterTrack, counter_delta
from gateway.kpi.ical import IcalError, load_calendar
from gateway.kpi.timing import effective_ts
from simulators.cnc import CncMachine
from tests.kpi.harness import SEOUL, config, kpi_block

# --- config: a bad `kpi` block names the key --------------------------------------------------------


def _issues(tmp_path: Path, **over: Any) -> list[str]:
    base = config(tmp_path)
    data = base.model_dump(mode="json", exclude_none=True)
    data["assets"][0]["kpi"] = kpi_block(**over)
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    return [f"{i.key}: {i.message}" for i in e.value.issues]


@pytest.mark.parametrize(("over", "key", "text"), [
    ({"state": {"point": "Machine.State", "map": {"Running": "producing"}}}, "assets[0].kpi.state.map.Running",
     "'production'"),
    ({"state": {"point": "Machine.State", "map": {False: "not_planned"}}}, "assets[0].kpi.state.map",
     "quote it"),
    ({"state": {"preset": "opc40001"}}, "assets[0].kpi.state.item_state", "MachineryItemState"),
    ({"counters": {"scrap": "Counters.Scrap"}}, "assets[0].kpi.counters.produced", "at least"),
    ({"energy": "EM01/OperationalData/Nope"}, "assets[0].kpi.energy", "no point 'EM01/OperationalData/Nope'"),
    ({"calendar": {"timezone": "Asia/Sel"}}, "assets[0].kpi.calendar.timezone", "IANA"),
    ({"calendar": {"shifts": [{"name": "A", "start": "6:00", "end": "14:00"}]}},
     "assets[0].kpi.calendar.shifts[0].start", "HH:MM"),
    ({"calendar": {"shifts": [{"name": "A", "start": "06:00", "end": "14:00", "days": ["Funday"]}]}},
     "assets[0].kpi.calendar.shifts[0].days", "weekday"),
    ({"calendar": {"shifts": [{"name": "A", "start": "06:00", "end": "14:00"}], "ical": "x.ics"}},
     "assets[0].kpi.calendar.ical", "not both"),
    ({"oee_target": 0.85}, "assets[0].kpi.oee_target", "unknown key"),
])
def test_bad_kpi_config_names_the_key(tmp_path: Path, over: dict[str, Any], key: str, text: str) -> None:
    issues = _issues(tmp_path, **over)
    assert any(i.startswith(key + ":") and text in i for i in issues), issues


def test_a_bad_ical_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    data = config(tmp_path).model_dump(mode="json", exclude_none=True)
    data["assets"][0]["kpi"]["calendar"] = {"timezone": "Asia/Seoul", "ical": "missing.ics"}
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "gw.yaml")
    assert e.value.issues[0].key == "assets[0].kpi.calendar.ical" and "cannot read" in e.value.issues[0].message
    f = tmp_path / "plant.ics"
    f.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n")
    with pytest.raises(IcalError, match="no VEVENT"):
        load_calendar(str(f))
    f.write_text(ICAL.replace("X-BREAK:20250310T100000Z/PT30M", "X-BREAK:20250310T100000Z/30M"))
    with pytest.raises(IcalError, match="30M"):
        load_calendar(str(f))


# --- calendar ------------------------------------------------------------------------------------------


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return to_ns(datetime(y, mo, d, h, mi, tzinfo=SEOUL))


def test_shifts_breaks_holidays_and_a_night_shift_in_seoul() -> None:
    cal = ProductionCalendar.from_config(CalendarConfig.model_validate({
        "timezone": "Asia/Seoul", "day_start": "06:00", "holidays": ["2026-12-25"], "shifts": [
            {"name": "Early", "start": "06:00", "end": "14:00", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
             "breaks": [{"start": "10:00", "end": "10:30"}]},
            {"name": "Night", "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "end": "02:30"}]}]}))
    shifts = cal.shifts(local(2026, 12, 24, 0), local(2026, 12, 27, 0))
    got = [(w.name, w.day.isoformat(), from_ns(w.start, SEOUL).strftime("%d %H:%M")) for w in shifts]
    assert got == [("Night", "2026-12-23", "23 22:00"), ("Early", "2026-12-24", "24 06:00"),
                   ("Night", "2026-12-24", "24 22:00"),  # 25th: holiday, no Early and no Night
                   ("Night", "2026-12-26", "26 22:00")]  # Saturday: Night only
    night = shifts[2]
    assert night.planned == ((local(2026, 12, 24, 22), local(2026, 12, 25, 2)),
                             (local(2026, 12, 25, 2, 30), local(2026, 12, 25, 6)))
    assert night.start == to_ns(datetime(2026, 12, 24, 13, 0, tzinfo=SEOUL.__class__("UTC")))  # 22:00 KST = 13:00Z
    assert cal.day_of(local(2026, 12, 25, 5, 59)) == night.day  # before day_start: still the 24th's production day
    assert [w.label for w in cal.windows("day", local(2026, 12, 24, 6), local(2026, 12, 25, 6))] == ["2026-12-24"]
    assert len(cal.windows("hour", local(2026, 12, 24, 0), local(2026, 12, 25, 0))) == 24


ICAL = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Inc//Production Calendar//EN
BEGIN:VEVENT
UID:morning_shift@example.com
SUMMARY:Morning Shift
DTSTART:20250310T060000Z
DTEND:20250310T140000Z
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20250609T235959Z
EXDATE:20250312T060000Z
X-PRODUCTION-DAY:0
X-BREAK:20250310T100000Z/PT30M
END:VEVENT
END:VCALENDAR
"""


def test_idta_02067_ical_shifts_with_breaks_and_an_exception(tmp_path: Path) -> None:
    """IDTA 02067 Annex B example 3 (morning shift Mon-Fri with a break), plus an EXDATE."""
    f = tmp_path / "plant.ics"
    f.write_text(ICAL)
    cal = ProductionCalendar.from_config(CalendarConfig(ical=str(f)))
    utc = SEOUL.__class__("UTC")
    t0, t1 = to_ns(datetime(2025, 3, 10, tzinfo=utc)), to_ns(datetime(2025, 3, 17, tzinfo=utc))
    shifts = cal.shifts(t0, t1)
    assert [from_ns(w.start, utc).day for w in shifts] == [10, 11, 13, 14]  # the 12th is excluded
    for w in shifts:
        d = from_ns(w.start, utc)
        brk = to_ns(d.replace(hour=10)), to_ns(d.replace(hour=10, minute=30))
        assert w.planned == ((w.start, brk[0]), (brk[1], w.end))  # the break moves with every recurrence
        assert w.name == "Morning Shift"
    assert sum(e - s for s, e in cal.planned(t0, t1)) == 4 * 7.5 * 3600 * 10**9


# --- categories -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "mode", "expected"), [
    ("Executing", "Processing", "production"), ("Executing", "Setup", "setup"),
    ("Executing", "Maintenance", "not_planned"), ("NotExecuting", "Processing", "delay"),
    ("NotExecuting", "Setup", "setup"), ("OutOfService", "Processing", "down"),
    ("NotAvailable", "Processing", "down"), ("NotExecuting", "Maintenance", "not_planned"),
    ("Executing", BAD, "unknown"), (BAD, "Processing", "unknown"), (None, "Processing", "unknown"),
    ("Exploding", "Processing", "unknown"),
])
def test_opc40001_preset(item: Any, mode: Any, expected: str) -> None:
    c = Classifier(StateConfig(preset="opc40001", item_state="S", operation_mode="M"))
    assert c.classify(item, mode, None) == expected


def test_operator_mode_where_the_machine_does_not_know_it() -> None:
    c = Classifier(StateConfig(preset="opc40001", item_state="S"))
    assert c.classify("Executing", None, None) == "production"  # default_mode Processing
    assert c.classify("Executing", None, "Setup") == "setup"
    assert c.classify("NotExecuting", None, "Maintenance") == "not_planned"
    m = Classifier(StateConfig(point="S", map={"Run": "production", "Stop": "delay"}))
    assert m.classify("Stop", None, "Setup") == "setup" and m.classify("Run", None, "Setup") == "production"
    assert m.classify("Weird", None, None) == "unknown" and m.unmapped == {"Weird"}


# --- counters and timing ----------------------------------------------------------------------------------


def test_counter_deltas_resets_and_wraps() -> None:
    assert counter_delta(100, 130, 2**32) == 30
    assert counter_delta(2**32 - 10, 5, 2**32) == 15  # UInt32 wrapped
    assert counter_delta(2**16 - 1, 0, 2**16) == 1  # UInt16 wrapped
    assert counter_delta(5000, 12, 2**32) == 12  # reset, then 12 parts
    assert counter_delta(5000, 12, None) == 12
    t = CounterTrack(2**32)
    assert [t.update(v) for v in (10, 15, 0, 3, 3)] == [0, 5, 0, 3, 0] and t.resets == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_a_wrapping_uint32_counter_counts_every_part(steps: list[int], start: int) -> None:
    t = CounterTrack(2**32)
    t.update(start)
    value, total = start, 0.0
    for s in steps:
        value = (value + s) % 2**32
        total += t.update(value)
    assert total == sum(steps)


def test_effective_time_is_clamped_into_grace_before_arrival() -> None:
    g = 10
    assert effective_ts(100, 105, g) == 100  # normal
    assert effective_ts(50, 105, g) == 95  # an old source time: at most grace before arrival
    assert effective_ts(200, 105, g) == 105  # a clock ahead: never after arrival


@pytest.mark.slow
def test_cnc_simulator_counts_good_and_scrap_and_states_deterministically() -> None:
    def run(seed: int) -> tuple[Any, ...]:
        m = CncMachine(seed=seed)
        states = set()
        for _ in range(20000):  # 2000 simulated seconds
            m.tick()
            states.add((m.values["MachineryBuildingBlocks.MachineryItemState.CurrentState"],
                        m.values["MachineryBuildingBlocks.MachineryOperationMode.CurrentState"]))
            assert m.values["Program.GoodCount"] + m.values["Program.ScrapCount"] == m.values["Program.PartCount"]
        return (m.values["Program.PartCount"], m.values["Program.ScrapCount"], tuple(sorted(states)),
                m.values["Spindle.Speed"])

    a, b = run(4), run(4)
    assert a == b
    assert ("Executing", "Processing") in a[2] and ("OutOfService", "Processing") in a[2]
    assert a[1] > 0  # a worn tool made scrap
