"""The recompute's fast path: counters summed and the energy register read per calendar bucket.

A year holds about a million counter and register rows; replaying each in Python costs seconds.
Periods only ever need those rows summed between their boundaries, so when every boundary of the
requested windows falls on a bucket (an hour, 15 minutes, else a minute) and the ideal cycle time
is a constant, the engine gets one event per bucket, at the bucket's start: every window sum is the
same number as the per-sample path gives (tests/kpi/test_bulk.py holds them equal).

What costs time is measured (BENCHMARKS.md, KPI section), not guessed: SQLite reading a row through
the `(series, ts)` index is ~0.3 µs; its window functions (`lag` for deltas, first/last per bucket)
and the sorts behind them cost 3-5 times that. So neither is used:

- a counter's rows are shipped in one `group_concat` per column (seq, bucket, value) and the
  engine's rules (`counters`: resets and wrap-around in `seq` order) are applied to whole arrays
  with numpy. Text is exact for integers, so only counters whose values are all integers (or
  integral reals below 1e15, which SQLite prints with every digit) take this path;
- the register needs only its first and last reading per bucket, by (effective time, seq). For a
  reading whose source time lies within [received - grace, received] the effective time is the
  source time, so the index order is that order and the first and last of a bucket are two index
  seeks. The other readings (late or early) are few and are read one by one.

Anything this path cannot reproduce exactly (a text value, a reading a float cannot take, a late
row just before the window, minute buckets for a register read less often than twice a minute)
leaves that point to the per-sample path; the caller feeds the points not returned. Orders
(arbitrary start times) and the restart replay always take the per-sample path.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING, Any

from connectors.status import BAD_MASK
from gateway.historian import Historian, UnknownPointError
from gateway.kpi.engine import AssetEngine
from gateway.kpi.timing import BEFORE_ROWS

if TYPE_CHECKING:  # numpy is loaded by a recompute (`aas-gateway kpi`), not with every gateway
    import numpy as np

_EXACT = 2**53  # integers up to here are exact in a float: sums of deltas do not depend on their order

# rows the engine takes: good status, a value, not stamped more than max_clock_skew ahead of arrival
_TAKEN = "series = :sid AND ts >= :lo AND ts < :hi AND (status & :bad) = 0 AND value IS NOT NULL " \
         "AND ts - recv_ts <= :skew"
_EFF = "min(recv_ts, max(ts, recv_ts - :g))"  # timing.effective_ts

# one row: every taken row's seq, bucket (relative to :base) and value, in any order (seq restores it),
# and how many values text would not carry exactly
_COUNTER_SQL = f"""
SELECT count(*), group_concat(seq), group_concat(({_EFF} - :base) / :b), group_concat(value),
       sum(CASE typeof(value) WHEN 'integer' THEN 0
                              WHEN 'real' THEN value <> round(value) OR abs(value) >= 1e15 ELSE 1 END)
FROM samples WHERE {_TAKEN}
"""

# rows whose effective time is not their source time (late or early), and rows that are not numbers
_REGISTER_ODD_SQL = f"""
SELECT seq, {_EFF}, value, typeof(value) IN ('integer', 'real') FROM samples
WHERE {_TAKEN} AND (ts > recv_ts OR ts < recv_ts - :g OR typeof(value) NOT IN ('integer', 'real'))
"""

# per bucket, the first and the last of the other rows by (ts, seq): the index order
_REGULAR = "series = :sid AND ts >= max(x, :lo) AND ts < min(x + :b, :hi) AND (status & :bad) = 0 " \
           "AND value IS NOT NULL AND ts <= recv_ts AND ts >= recv_ts - :g AND typeof(value) IN ('integer', 'real')"
_REGISTER_EDGES_SQL = f"""
WITH RECURSIVE k(x) AS (SELECT :base UNION ALL SELECT x + :b FROM k WHERE x + :b < :hi),
e(f, l) AS (SELECT (SELECT seq FROM samples WHERE {_REGULAR} ORDER BY ts, seq LIMIT 1),
                   (SELECT seq FROM samples WHERE {_REGULAR} ORDER BY ts DESC, seq DESC LIMIT 1) FROM k)
SELECT s.seq, s.ts, s.value FROM e JOIN samples s ON s.seq = e.f OR s.seq = e.l
"""

_COUNT_SQL = "SELECT count(*) FROM samples WHERE series = :sid AND ts >= :lo AND ts < :hi"


def bucket_for(boundaries: list[int]) -> int | None:
    """The largest bucket (1 h, 15 min, 1 min) every boundary is a multiple of; None if not even a minute."""
    for b in (3600, 900, 60):
        ns = b * 1_000_000_000
        if all(x % ns == 0 for x in boundaries):
            return ns
    return None


def bulk_points(engine: AssetEngine) -> set[str]:
    """The points `feed_bulk` may take: the counters and the energy register."""
    pts = set(engine.inputs.counters.values())
    if engine.inputs.energy is not None and engine.register is not None:
        pts.add(engine.inputs.energy)
    return pts


async def feed_bulk(engine: AssetEngine, historian: Historian, start: int, end: int, bucket: int) -> set[str]:
    """Feed the counters and the register of [start, end) per bucket, each point on its own reader
    connection; the points it fed (the caller feeds the others sample by sample)."""
    jobs = [_counter(engine, historian, role, pid, start, end, bucket)
            for role, pid in engine.inputs.counters.items()]
    if engine.inputs.energy is not None and engine.register is not None:
        jobs.append(_register(engine, historian, engine.inputs.energy, start, end, bucket))
    return {pid for pid in await asyncio.gather(*jobs) if pid is not None}


def _params(engine: AssetEngine, sid: int, start: int, end: int, bucket: int) -> dict[str, Any]:
    g, skew = engine.grace_ns, engine.skew_ns
    lo = start - skew
    # effective times are >= lo - skew (a sample may be stamped up to skew ahead of its arrival)
    base = (lo - skew - g) // bucket * bucket
    return {"sid": sid, "lo": lo, "hi": end + skew, "g": g, "skew": skew, "bad": BAD_MASK, "b": bucket, "base": base}


async def _before(engine: AssetEngine, historian: Historian, pid: str, lo: int) -> list[tuple[Any, ...]] | None:
    """The rows before the window in seq order; None if one of them counts inside it (a late row:
    the per-sample path places it exactly)."""
    g = engine.grace_ns
    before = await historian.raw_rows(pid, end_ns=lo, limit=BEFORE_ROWS, descending=True)
    if any(min(r[4], max(r[1], r[4] - g)) >= lo for r in before):
        return None
    return sorted(before)


def _parse(text: str | None, n: int, dtype: type) -> np.ndarray | None:
    import numpy as np

    if n == 0:
        return np.empty(0, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (and stops) on text it cannot read
        try:
            a: np.ndarray = np.fromstring(text or "", dtype=dtype, sep=",")
        except (DeprecationWarning, ValueError):
            return None
    return a if len(a) == n else None


async def _counter(engine: AssetEngine, historian: Historian, role: str, pid: str, start: int, end: int,
                   bucket: int) -> str | None:
    import numpy as np

    try:
        sid = historian.series_id(pid)
    except UnknownPointError:
        return pid  # nothing stored: nothing to feed
    p = _params(engine, sid, start, end, bucket)
    before = await _before(engine, historian, pid, p["lo"])
    if before is None:
        return None
    (n, seqs, ks, vs, inexact), = await historian.select(_COUNTER_SQL, p)
    if inexact:
        return None
    seq, k, v = _parse(seqs, n, np.int64), _parse(ks, n, np.int64), _parse(vs, n, np.float64)
    if seq is None or k is None or v is None or (n and float(np.abs(v).max()) >= _EXACT):
        return None
    if n and before and before[-1][0] > seq.min():
        return None  # a row before the window was stored after one inside it: seq order mixes them
    if n > 1 and bool((seq[1:] <= seq[:-1]).any()):
        order = np.argsort(seq, kind="stable")
        k, v = k[order], v[order]
    prev = _baseline(engine, before)
    track = engine.tracks[role]
    d = np.empty(n)
    if n:
        d[1:] = v[1:] - v[:-1]
        d[0] = 0.0 if prev is None else v[0] - prev
    down = d < 0
    wraps = 0
    if down.any():  # counters.counter_delta, on the rows that went down
        dn, vn = d[down], v[down]
        reset = np.where(vn >= 0, vn, 0.0)
        if track.modulus is not None:
            m = float(track.modulus)
            wrapped = dn + m < m / 2
            d[down] = np.where(wrapped, dn + m, reset)
            wraps = int(wrapped.sum())
        else:
            d[down] = reset
    sums = np.bincount(k, weights=d) if n else d
    if float(sums.sum()) >= _EXACT:
        return None  # sums this large depend on the order they are added in
    # the per-sample path's state after these rows (baseline, wraps and resets), and the events
    track.prev = float(v[-1]) if n else prev
    track.wraps += wraps
    track.resets += int(down.sum()) - wraps
    events = engine.events[role]
    for i in np.flatnonzero(sums):
        engine._n += 1
        events.add(p["base"] + int(i) * bucket, engine._n, float(sums[i]))
    return pid


def _baseline(engine: AssetEngine, before: list[tuple[Any, ...]]) -> float | None:
    """The counter value the window's first delta is taken from: the last reading before it the engine takes
    (the deltas among these rows lie before every window)."""
    prev = None
    for _, ts, value, status, received in before:
        if ts - received > engine.skew_ns or status & BAD_MASK or value is None:
            continue
        try:
            prev = float(value)
        except (TypeError, ValueError):
            continue
    return prev


async def _register(engine: AssetEngine, historian: Historian, pid: str, start: int, end: int,
                    bucket: int) -> str | None:
    try:
        sid = historian.series_id(pid)
    except UnknownPointError:
        return pid
    p = _params(engine, sid, start, end, bucket)
    before = await _before(engine, historian, pid, p["lo"])
    if before is None:
        return None
    (rows,), = await historian.select(_COUNT_SQL, p)
    if (p["hi"] - p["base"]) // bucket * 2 > rows:
        return None  # more index seeks than rows: reading every row is cheaper
    odd, edges = await asyncio.gather(historian.select(_REGISTER_ODD_SQL, p), historian.select(_REGISTER_EDGES_SQL, p))
    if any(not numeric for *_, numeric in odd):
        return None  # text in a number series (NaN, a huge integer): the historian's decoder reads it
    g, skew, res = engine.grace_ns, engine.skew_ns, engine.res
    readings = []
    for seq, ts, value, status, received in before:
        if ts - received <= skew and not status & BAD_MASK and value is not None:
            readings.append((min(received, max(ts, received - g)), seq, value))
    readings += [(eff, seq, value) for seq, eff, value, _ in odd]
    readings += [(ts, seq, value) for seq, ts, value in edges]  # regular rows: eff = ts
    try:
        units = [(eff, seq, round(float(value) / res)) for eff, seq, value in readings]
    except (TypeError, ValueError, OverflowError):
        return None  # the engine skips such a reading, and the one after it becomes a bucket's edge
    reg = engine.register
    assert reg is not None
    for eff, seq, u in units:
        reg.add(eff, seq, u)
    return pid
