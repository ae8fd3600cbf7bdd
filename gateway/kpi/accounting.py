"""Time accounting of one window: a sweep over the state step functions and the calendar.

Between two consecutive change times (a state, mode or operator input changes, planned time
starts or ends, an unknown interval starts or ends) nothing changes, so the window is cut there
and each segment adds its length to one category. Only planned busy time is accounted: outside
the calendar's planned time a machine may do what it likes. Quantities are not cut by the
calendar: a part is a part (one made during a break still counts in its period).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from gateway.kpi.categories import DOWN, UNKNOWN
from gateway.kpi.formulas import Totals
from gateway.kpi.series import Steps

Interval = tuple[int, int]


def account(totals: Totals, planned: Sequence[Interval], steps: Sequence[Steps],
            classify: Callable[[int], str], unknown: Sequence[Interval], reasons: Steps) -> None:
    """Add the time of [totals.start, totals.end) to `totals` (times, down periods, reasons)."""
    a, b = totals.start, totals.end
    if b <= a:
        return
    cuts = {a, b}
    for series in steps:
        cuts.update(series.changes(a, b))
    cuts.update(reasons.changes(a, b))
    for iv in (*planned, *unknown):
        cuts.update(x for x in iv if a < x < b)
    times = sorted(cuts)
    plan_starts = [s for s, _ in planned]
    unk = sorted(unknown)
    unk_starts = [s for s, _ in unk]
    acc: dict[str, int] = {}
    in_down = False
    down_counted = False
    for i in range(len(times) - 1):
        t0, t1 = times[i], times[i + 1]
        j = bisect_right(unk_starts, t0) - 1
        cat = UNKNOWN if j >= 0 and unk[j][1] > t0 else classify(t0)
        if cat != DOWN:
            in_down = False
        elif not in_down:
            in_down, down_counted = True, False
        k = bisect_right(plan_starts, t0) - 1
        if k < 0 or planned[k][1] <= t0:
            continue  # not planned busy time
        dur = t1 - t0
        totals.planned += dur
        acc[cat] = acc.get(cat, 0) + dur
        if cat == DOWN:
            if not down_counted:
                totals.down_periods += 1
                down_counted = True
            reason = reasons.at(t0)
            key = str(reason) if reason not in (None, "") else ""
            totals.down_by_reason[key] = totals.down_by_reason.get(key, 0) + dur
    for cat, dur in acc.items():
        setattr(totals, cat, getattr(totals, cat) + dur)


def value_at(steps: Steps | None, t: int, default: Any = None) -> Any:
    if steps is None:
        return default
    v = steps.at(t)
    return default if v is None else v
