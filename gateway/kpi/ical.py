"""IDTA 02067 Production Calendar: shifts as iCalendar (RFC 5545) events, read with `icalendar`.

Each VEVENT is a shift (SUMMARY its name) with its RRULE/RDATE/EXDATE recurrence, expanded by
`recurring-ical-events`. The IDTA extensions: X-BREAK and X-MAINTENANCE list periods (RFC 5545
PERIOD ``start/end`` or ``start/duration``, IDTA's example also writes ``start-end``) that are not
planned busy time; they are given for the first occurrence and move with every recurrence.
X-PRODUCTION-DAY is accepted; the day windows come from `calendar.day_start` instead, which says
the same thing for every shift at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events

from connectors.sample import datetime_to_ns as to_ns
from gateway.kpi.intervals import DayClock, Interval, ShiftWindow, subtract

_DT = re.compile(r"^\d{8}T\d{6}Z?$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class IcalError(ValueError):
    pass


def load_calendar(source: str) -> icalendar.Calendar:
    """Parse inline iCalendar text or a .ics file; IcalError says what is wrong."""
    if "BEGIN:VCALENDAR" in source:
        text = source
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as e:
            raise IcalError(f"cannot read {source}: {e.strerror}") from None
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as e:
        raise IcalError(f"not an iCalendar file: {e}") from None
    if not any(c.name == "VEVENT" for c in cal.walk()):
        raise IcalError("the calendar has no VEVENT (one per shift)")
    ev: Any
    for ev in cal.walk("VEVENT"):
        if ev.get("DTSTART") is None or (ev.get("DTEND") is None and ev.get("DURATION") is None):
            raise IcalError(f"event {ev.get('SUMMARY') or ev.get('UID')!r} needs DTSTART and DTEND (or DURATION)")
        for key in ("X-BREAK", "X-MAINTENANCE"):
            for text_period in _values(ev.get(key)):
                _period(text_period, UTC)  # fail at load, not at 3 a.m.
    return cal


def _values(prop: Any) -> list[str]:
    if prop is None:
        return []
    items = prop if isinstance(prop, list) else [prop]
    out: list[str] = []
    for item in items:
        raw = item.to_ical() if hasattr(item, "to_ical") else item
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        out.extend(p.strip() for p in text.split(",") if p.strip())
    return out


def _dt(text: str, tz: Any) -> datetime:
    if not _DT.match(text):
        raise IcalError(f"{text!r} is not an iCalendar date-time (YYYYMMDDTHHMMSS[Z])")
    naive = datetime.strptime(text[:15], "%Y%m%dT%H%M%S")
    return naive.replace(tzinfo=UTC) if text.endswith("Z") else naive.replace(tzinfo=tz)


def _duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or text in ("P", "PT"):
        raise IcalError(f"{text!r} is not an iCalendar duration such as PT30M")
    w, d, h, mi, s = (int(x or 0) for x in m.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def _period(text: str, tz: Any) -> tuple[datetime, datetime]:
    if "/" in text:
        a, b = text.split("/", 1)
        start = _dt(a, tz)
        end = start + _duration(b) if b.startswith("P") else _dt(b, tz)
    else:
        m = re.match(r"^(\d{8}T\d{6}Z?)-(\d{8}T\d{6}Z?)$", text)
        if not m:
            raise IcalError(f"{text!r} is not a period start/end or start/duration")
        start, end = _dt(m.group(1), tz), _dt(m.group(2), tz)
    if end <= start:
        raise IcalError(f"period {text!r} ends before it starts")
    return start, end


def ical_shifts(source: str, cal: DayClock) -> Callable[[date], list[ShiftWindow]]:
    """Shifts of a production day from an IDTA 02067 calendar (expanded a month at a time)."""
    ics = load_calendar(source)
    by_month: dict[tuple[int, int], dict[date, list[ShiftWindow]]] = {}

    def expand(year: int, month: int) -> dict[date, list[ShiftWindow]]:
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        s_ns, _ = cal.day_bounds(first)
        e_ns, _ = cal.day_bounds(nxt)
        lo = datetime.fromtimestamp(s_ns / 1e9, UTC) - timedelta(days=2)
        hi = datetime.fromtimestamp(e_ns / 1e9, UTC) + timedelta(days=1)
        days: dict[date, list[ShiftWindow]] = {}
        events: list[Any] = recurring_ical_events.of(ics).between(lo, hi)
        for ev in events:
            start = _aware(ev["DTSTART"].dt, cal)
            end = _aware(ev["DTEND"].dt, cal) if ev.get("DTEND") is not None else start + ev["DURATION"].dt
            s, e = to_ns(start), to_ns(end)
            if not s_ns <= s < e_ns:
                continue
            # X-BREAK / X-MAINTENANCE are written for the series' first occurrence: shift them along
            base = _series_start(ics, ev, cal)
            shift_by = start - base if base is not None else timedelta(0)
            cuts: list[Interval] = []
            for key in ("X-BREAK", "X-MAINTENANCE"):
                for text in _values(ev.get(key)):
                    bs, be = _period(text, cal.tz)
                    cuts.append((to_ns(bs + shift_by), to_ns(be + shift_by)))
            d = cal.day_of(s)
            name = str(ev.get("SUMMARY") or ev.get("UID") or "Shift")
            days.setdefault(d, []).append(ShiftWindow(name, s, e, d, tuple(subtract((s, e), cuts))))
        return days

    def on(d: date) -> list[ShiftWindow]:
        key = (d.year, d.month)
        if key not in by_month:
            by_month[key] = expand(*key)
        return list(by_month[key].get(d, []))

    return on


def _aware(v: Any, cal: DayClock) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=cal.tz)
    return datetime.combine(v, cal.day_start, cal.tz)  # an all-day event: the production day


def _series_start(ics: icalendar.Calendar, occurrence: Any, cal: DayClock) -> datetime | None:
    uid = occurrence.get("UID")
    ev: Any
    for ev in ics.walk("VEVENT"):
        if ev.get("UID") == uid and ev.get("RECURRENCE-ID") is None:
            return _aware(ev["DTSTART"].dt, cal)
    return None
