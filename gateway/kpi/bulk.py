"""The recompute's fast path: counters and the energy register summed per calendar bucket in SQLite.

A year holds about a million counter and register rows; replaying each in Python costs seconds.
Periods only ever need those rows summed between their boundaries, so when every boundary of the
requested windows falls on a bucket (an hour, else a minute) and the ideal cycle time is a constant,
SQLite computes each row's delta with the engine's own rules (`timing`: the effective time;
`counters`: resets and wrap-around, in `seq` order) and sums them per bucket; the register keeps
its first and last reading per bucket. The engine then gets one event per bucket, at the bucket's
start: every window sum is the same number as the per-sample path gives (tests/kpi/test_bulk.py
holds them equal). Orders (arbitrary start times) and the restart replay take the per-sample path.
"""

from __future__ import annotations

from connectors.status import BAD_MASK
from gateway.historian import Historian, UnknownPointError
from gateway.kpi.engine import AssetEngine

_COUNTER_SQL = """
WITH r AS (
    SELECT seq, min(recv_ts, max(ts, recv_ts - :g)) AS eff, value AS v FROM samples
    WHERE series = :sid AND ts >= :lo AND ts < :hi AND (status & :bad) = 0 AND value IS NOT NULL
      AND ts - recv_ts <= :skew
), d AS (
    SELECT eff, v, coalesce(lag(v) OVER (ORDER BY seq), :prev0) AS p FROM r
)
SELECT eff / :b AS k, sum(CASE
    WHEN p IS NULL THEN 0
    WHEN v >= p THEN v - p
    WHEN :mod IS NOT NULL AND v - p + :mod < :mod / 2.0 THEN v - p + :mod
    WHEN v >= 0 THEN v ELSE 0 END)
FROM d GROUP BY k ORDER BY k
"""

_REGISTER_SQL = """
WITH r AS (
    SELECT seq, min(recv_ts, max(ts, recv_ts - :g)) AS eff, value AS v FROM samples
    WHERE series = :sid AND ts >= :lo AND ts < :hi AND (status & :bad) = 0 AND value IS NOT NULL
      AND ts - recv_ts <= :skew
), o AS (
    SELECT eff, seq, v, eff / :b AS k, lag(eff / :b) OVER w AS pk, lead(eff / :b) OVER w AS nk
    FROM r WINDOW w AS (ORDER BY eff, seq)
)
SELECT eff, seq, v FROM o WHERE pk IS NOT k OR nk IS NOT k
"""


def bucket_for(boundaries: list[int]) -> int | None:
    """The largest bucket (1 h, 15 min, 1 min) every boundary is a multiple of; None if not even a minute."""
    for b in (3600, 900, 60):
        ns = b * 1_000_000_000
        if all(x % ns == 0 for x in boundaries):
            return ns
    return None


async def feed_bulk(engine: AssetEngine, historian: Historian, start: int, end: int, bucket: int) -> set[str]:
    """Feed the counters and the register of [start, end) per bucket; the points it fed."""
    fed: set[str] = set()
    g, skew = engine.grace_ns, engine.skew_ns
    lo, hi = start - skew, end + skew
    for role, pid in engine.inputs.counters.items():
        try:
            sid = historian.series_id(pid)
        except UnknownPointError:
            continue
        before = await historian.raw_rows(pid, end_ns=lo, limit=50, descending=True)
        if any(min(r[4], max(r[1], r[4] - g)) >= lo for r in before):
            return set()  # a late row before the window: the per-sample path handles it exactly
        good = [r for r in sorted(before) if not r[3] & BAD_MASK and r[2] is not None]
        prev0 = float(good[-1][2]) if good else None
        mod = engine.tracks[role].modulus
        rows = await historian.select(_COUNTER_SQL, {"g": g, "sid": sid, "lo": lo, "hi": hi, "bad": BAD_MASK,
                                                     "skew": skew, "prev0": prev0, "b": bucket, "mod": mod})
        events = engine.events[role]
        for k, total in rows:
            if total:
                engine._n += 1
                events.add(k * bucket, engine._n, float(total))
        fed.add(pid)
    energy = engine.inputs.energy
    if energy is not None and engine.register is not None:
        try:
            sid = historian.series_id(energy)
        except UnknownPointError:
            return fed
        before = await historian.raw_rows(energy, end_ns=lo, limit=50, descending=True)
        if any(min(r[4], max(r[1], r[4] - g)) >= lo for r in before):
            return set()
        res = engine.res
        for r in sorted(before):
            if not r[3] & BAD_MASK and r[2] is not None:
                engine.register.add(min(r[4], max(r[1], r[4] - g)), r[0], round(float(r[2]) / res))
        rows = await historian.select(_REGISTER_SQL, {"g": g, "sid": sid, "lo": lo, "hi": hi, "bad": BAD_MASK,
                                                      "skew": skew, "b": bucket})
        for eff, seq, v in rows:
            engine.register.add(eff, seq, round(float(v) / res))
        fed.add(energy)
    return fed
