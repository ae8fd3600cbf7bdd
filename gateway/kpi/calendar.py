"""The production calendar: which time is planned busy time, and the shift, hour and day windows.

Everything is answered for a UTC nanosecond window, in the calendar's own time zone (a shift at
06:00 in Asia/Seoul starts at 21:00 UTC the day before). Shifts come from the `shifts` config
(weekdays, breaks, holidays) or from an IDTA 02067 iCalendar file (see `ical`); both become the
same `ShiftWindow`s. Without either, every hour is planned and each production day is one shift
named "Day".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.sample import datetime_to_ns as to_ns  # the one conversion, under the calendar's short name
from gateway.kpi.config import WEEKDAYS, CalendarConfig, parse_hhmm
from gateway.kpi.intervals import Interval, ShiftWindow, subtract

NS = 1_000_000_000
HOUR_NS = 3600 * NS


@dataclass(frozen=True)
class Window:
    kind: str  # "shift", "hour" or "day"
    start: int
    end: int
    label: str  # "2026-12-03 Early", "2026-12-03T14", "2026-12-03"


def from_ns(ns: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ns // NS, tz) + timedelta(microseconds=(ns % NS) // 1000)


@dataclass
class ProductionCalendar:
    tz: ZoneInfo
    day_start: time
    # local production day -> its shifts; None: planned 24/7, one "Day" shift per production day
    shifts_of_day: Callable[[date], list[ShiftWindow]] | None = None
    _cache: dict[date, list[ShiftWindow]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg: CalendarConfig) -> ProductionCalendar:
        tz = ZoneInfo(cfg.timezone)
        day_start = parse_hhmm(cfg.day_start)
        cal = cls(tz, day_start)
        if cfg.ical is not None:
            from gateway.kpi.ical import ical_shifts

            cal.shifts_of_day = ical_shifts(cfg.ical, cal)
        elif cfg.shifts:
            cal.shifts_of_day = _configured_shifts(cfg, cal)
        return cal

    # --- days ------------------------------------------------------------------------

    def day_of(self, ns: int) -> date:
        """The production day a moment belongs to."""
        local = from_ns(ns, self.tz)
        d = local.date()
        return d - timedelta(days=1) if local.time() < self.day_start else d

    def day_bounds(self, d: date) -> Interval:
        return (to_ns(datetime.combine(d, self.day_start, self.tz)),
                to_ns(datetime.combine(d + timedelta(days=1), self.day_start, self.tz)))

    def local(self, d: date, t: time, next_day: bool = False) -> int:
        return to_ns(datetime.combine(d + timedelta(days=1 if next_day else 0), t, self.tz))

    # --- shifts ----------------------------------------------------------------------

    def shifts_on(self, d: date) -> list[ShiftWindow]:
        got = self._cache.get(d)
        if got is None:
            if self.shifts_of_day is None:
                s, e = self.day_bounds(d)
                got = [ShiftWindow("Day", s, e, d, ((s, e),))]
            else:
                got = sorted(self.shifts_of_day(d), key=lambda w: w.start)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[d] = got
        return got

    def shifts(self, t0: int, t1: int) -> list[ShiftWindow]:
        """Shifts overlapping [t0, t1), by start."""
        out: list[ShiftWindow] = []
        d = self.day_of(t0) - timedelta(days=1)  # a long night shift of the day before may reach in
        last = self.day_of(t1) + timedelta(days=1)
        while d <= last:
            out.extend(w for w in self.shifts_on(d) if w.end > t0 and w.start < t1)
            d += timedelta(days=1)
        out.sort(key=lambda w: w.start)
        return out

    def shift_at(self, ns: int) -> ShiftWindow | None:
        for w in self.shifts(ns, ns + 1):
            if w.start <= ns < w.end:
                return w
        return None

    def planned(self, t0: int, t1: int) -> list[Interval]:
        """Planned busy time within [t0, t1): sorted, disjoint, clipped."""
        ivs = [(max(s, t0), min(e, t1)) for w in self.shifts(t0, t1) for s, e in w.planned if e > t0 and s < t1]
        ivs.sort()
        merged: list[Interval] = []
        for s, e in ivs:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            elif s < e:
                merged.append((s, e))
        return merged

    # --- windows ---------------------------------------------------------------------

    def hour_start(self, ns: int) -> int:
        local = from_ns(ns, self.tz)
        return to_ns(local.replace(minute=0, second=0, microsecond=0))

    def windows(self, kind: str, t0: int, t1: int) -> list[Window]:
        """Windows of one kind overlapping [t0, t1), by start."""
        if kind == "shift":
            return [Window("shift", w.start, w.end, f"{w.day.isoformat()} {w.name}") for w in self.shifts(t0, t1)]
        if kind == "hour":
            out = []
            s = self.hour_start(t0)
            while s < t1:
                e = self.hour_start(s + HOUR_NS + 60 * NS)  # robust to 30-minute offsets and DST
                if e <= s:
                    e = s + HOUR_NS
                out.append(Window("hour", s, e, from_ns(s, self.tz).strftime("%Y-%m-%dT%H")))
                s = e
            return out
        if kind == "day":
            out = []
            d = self.day_of(t0)
            while True:
                s, e = self.day_bounds(d)
                if s >= t1:
                    break
                out.append(Window("day", s, e, d.isoformat()))
                d += timedelta(days=1)
            return out
        raise ValueError(f"unknown period kind {kind!r}")

    def window_at(self, kind: str, ns: int) -> Window | None:
        for w in self.windows(kind, ns, ns + 1):
            if w.start <= ns < w.end:
                return w
        return None

    def boundaries(self, t0: int, t1: int) -> list[int]:
        """Every window start and end within [t0, t1], sorted (the energy register is read at these)."""
        b = {x for k in ("shift", "hour", "day") for w in self.windows(k, t0, t1) for x in (w.start, w.end)}
        return sorted(x for x in b if t0 <= x <= t1)


def _configured_shifts(cfg: CalendarConfig, cal: ProductionCalendar) -> Callable[[date], list[ShiftWindow]]:
    holidays = set(cfg.holidays)

    def on(d: date) -> list[ShiftWindow]:
        out = []
        for sc in cfg.shifts:
            start_t, end_t = parse_hhmm(sc.start), parse_hhmm(sc.end)
            # the shift's calendar date: a shift starting before day_start belongs to the production day before
            cal_date = d + timedelta(days=1) if start_t < cal.day_start else d
            if WEEKDAYS[cal_date.weekday()] not in sc.days or cal_date in holidays:
                continue
            s = cal.local(cal_date, start_t)
            e = cal.local(cal_date, end_t, next_day=end_t <= start_t)
            cuts = []
            for b in sc.breaks:
                bs_t, be_t = parse_hhmm(b.start), parse_hhmm(b.end)
                bs = cal.local(cal_date, bs_t, next_day=bs_t < start_t)
                be = cal.local(cal_date, be_t, next_day=be_t <= bs_t or be_t < start_t)
                cuts.append((bs, be))
            out.append(ShiftWindow(sc.name, s, e, d, tuple(subtract((s, e), cuts))))
        return out

    return on


def locate(starts: list[int], ns: int) -> int:
    """Index of the last start <= ns (-1 if none)."""
    return bisect_right(starts, ns) - 1
