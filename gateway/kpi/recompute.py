"""The engine over the historian: recompute closed periods, and rebuild the live state after a restart.

Reads each input point of an asset from the historian (the sample in force before the window,
then every sample of the window, in the historian's `seq` order per point, which is the order the
live engine saw them in) and feeds an `AssetEngine` built from the same config: the numbers of a
closed period are then the live ones, by construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.historian import Historian, UnknownPointError, split_point_id
from gateway.kpi.asset import AssetKpi
from gateway.kpi.bulk import bucket_for, bulk_points, feed_bulk
from gateway.kpi.calendar import Window
from gateway.kpi.engine import AssetEngine
from gateway.kpi.formulas import NS, Totals
from gateway.kpi.timing import BEFORE_ROWS

ROW_LIMIT = 50_000_000


@dataclass
class PeriodResult:
    window: Window
    totals: Totals


async def feed_from_historian(engine: AssetEngine, historian: Historian, start: int, end: int,
                              counters_from: int | None = None, received_before: int | None = None,
                              skip: set[str] | None = None) -> int:
    """Feed the engine every input sample for [start, end), with the values in force at `start`.

    `counters_from` (<= start) reads counters from earlier (an order started before the window);
    `received_before` leaves out samples the gateway received from then on (the live engine gets
    those through the pipeline). Returns the number of samples fed.
    """
    skew = engine.skew_ns
    n = 0
    for pid in sorted(engine.inputs.all() - (skip or set())):
        is_counter = pid in engine.inputs.counters.values()
        lo = (counters_from if is_counter and counters_from is not None else start) - skew
        try:
            before = await historian.raw_rows(pid, end_ns=lo, limit=BEFORE_ROWS, descending=True)
            rows = await historian.raw_rows(pid, start_ns=lo, end_ns=end + skew, limit=ROW_LIMIT)
        except UnknownPointError:
            continue
        rows = before[::-1] + rows
        if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
            rows.sort()  # by seq: the order the live engine saw them in (source time went backwards)
        if received_before is not None:
            rows = [r for r in rows if r[4] < received_before]
        engine.feed_rows(pid, rows)
        n += len(rows)
    return n


async def recompute(kpi: AssetKpi, historian: Historian, kinds: Iterable[str], start: int,
                    end: int) -> list[PeriodResult]:
    """Every closed window of the given kinds that starts in [start, end), from the historian."""
    kinds = list(kinds)
    windows = sorted({w for k in kinds for w in kpi.calendar.windows(k, start, end) if w.start >= start},
                     key=lambda w: (w.start, w.kind))
    if not windows:
        return []
    engine = kpi.engine()
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows) + engine.grace_ns
    bucket = bucket_for([x for w in windows for x in (w.start, w.end)])
    if bucket is None or kpi.cfg.ideal_cycle_time_point is not None:
        await feed_from_historian(engine, historian, lo, hi)
    else:  # counters and register per bucket (see bulk), the other points meanwhile on other reader connections
        bulk = bulk_points(engine)
        fed, _ = await asyncio.gather(feed_bulk(engine, historian, lo, hi, bucket),
                                      feed_from_historian(engine, historian, lo, hi, skip=bulk))
        if bulk - fed:
            await feed_from_historian(engine, historian, lo, hi, skip=engine.inputs.all() - (bulk - fed))
    return [PeriodResult(w, engine.totals(w, w.end)) for w in windows]


async def order_start(kpi: AssetKpi, historian: Historian, at: int, max_age_s: float = 31 * 86400) -> int | None:
    """When the order in force at `at` was set (None: no order, or older than `max_age_s`)."""
    asset, submodel, path = split_point_id(kpi.inputs.order_id)
    try:
        rows = await historian.query(asset, submodel, path, end_ns=at, limit=1, descending=True)
    except UnknownPointError:
        return None
    if not rows or rows[0].value in (None, ""):
        return None
    return max(rows[0].ts, at - int(max_age_s * NS))
