"""Time intervals of the production calendar: planned windows, shifts and cutting breaks out of them.

Its own module so that both ways of defining shifts (the `shifts` config in `calendar` and an IDTA
02067 iCalendar file in `ical`) build the same `ShiftWindow`s without importing each other:
`calendar` loads `ical` lazily (icalendar is only imported when a calendar file is configured),
and `ical` sees the calendar through the small `DayClock` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Protocol
from zoneinfo import ZoneInfo

Interval = tuple[int, int]  # [start, end) in epoch ns, UTC


@dataclass(frozen=True)
class ShiftWindow:
    name: str
    start: int  # ns, UTC
    end: int
    day: date  # production day the shift belongs to (local date of its start, before day_start: the day before)
    planned: tuple[Interval, ...]  # the shift minus its breaks and maintenance, sorted, disjoint


class DayClock(Protocol):
    """What a shift source needs of the production calendar: its zone and its production days."""

    @property
    def tz(self) -> ZoneInfo: ...

    @property
    def day_start(self) -> time: ...

    def day_of(self, ns: int) -> date: ...

    def day_bounds(self, d: date) -> Interval: ...


def subtract(base: Interval, cuts: list[Interval]) -> list[Interval]:
    """`base` minus the union of `cuts`."""
    out = []
    s, e = base
    for cs, ce in sorted(cuts):
        if ce <= s or cs >= e:
            continue
        if cs > s:
            out.append((s, cs))
        s = max(s, ce)
        if s >= e:
            break
    if s < e:
        out.append((s, e))
    return out
