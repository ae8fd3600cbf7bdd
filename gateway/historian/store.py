"""The historian: the gateway's durable local store of every sample, with an async API.

Every sample lands here first; the REST API reads history from it and
forwarders replay it from their own cursors. Writes go through one group-commit
writer thread (see writer.py); reads, registration and cursors run on their
own connections in a small thread pool (WAL lets them run beside the writer);
retention runs on yet another connection. Nothing blocking touches the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, TypeVar

from prometheus_client import CollectorRegistry

from connectors.base import Record
from connectors.batch import BatchSeries, RecordBatch, SampleTimes
from connectors.sample import (
    FLAG_RECEIVED_TS_INVALID,
    FLAG_SERVER_TS_INVALID,
    FLAG_SOURCE_TS_INVALID,
    Sample,
    split_point_id,
)
from connectors.sample import now_ns as wall_clock_ns
from connectors.status import SEVERITY_MASK  # status & SEVERITY_MASK == 0: Good
from gateway.config import HistorianSettings
from gateway.historian import retention, schema
from gateway.historian.metrics import HistorianMetrics
from gateway.historian.records import (
    Bucket,
    HistorianStats,
    HistoryRow,
    Refusals,
    RetentionResult,
    SeriesInfo,
    WriteCounts,
)
from gateway.historian.values import NATIVE, decoder, encode
from gateway.historian.writer import DEAD_LETTER_FORWARDER, BatchWriter, Row

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_THREADS = 4
# the forwarders' read: rows as connectors.batch.Row (here and in gateway.forward_worker's process)
READ_BATCH_SQL = "SELECT seq, series, value, status, ts FROM samples WHERE seq > ? ORDER BY seq LIMIT ?"
BUSY_TIMEOUT_MS = 5000
CLOSE_TIMEOUT_S = 30.0

_ROW_COLS = "seq, ts, value, status, source_ts, server_ts, recv_ts, flags"
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

# buckets are floor(ts / b) * b, also for ts before 1970 (SQLite's % truncates toward zero)
_GOOD_NUMERIC = "value IS NOT NULL AND typeof(value) IN ('integer', 'real') AND (status & :mask) = 0"
_AGGREGATE = f"""
SELECT ts - ts % :b - (CASE WHEN ts % :b < 0 THEN :b ELSE 0 END) AS bucket, count(*), min(value), max(value),
       avg(value), min(ts), max(ts)
FROM samples
WHERE series = :sid AND ts >= :start AND ts < :end AND {_GOOD_NUMERIC}
GROUP BY bucket ORDER BY bucket
"""
# the last value of a bucket: the newest of its samples at its newest time (one index seek per bucket: a window
# function over every row cost ~1 µs per row, 1.4 s for a 7-day trend of a 1 Hz point; this way ~0.4 s)
_LAST_AT = f"SELECT value FROM samples WHERE series = :sid AND ts = :ts AND {_GOOD_NUMERIC} ORDER BY seq DESC LIMIT 1"


def _storable(ts: Any) -> bool:
    return type(ts) is int and _I64_MIN <= ts <= _I64_MAX


def _storable_times(src: Any, srv: Any, rcv: Any, flags: int) -> tuple[int | None, int | None, int, int]:
    """Timestamps SQLite cannot hold as an INTEGER become absent (flagged); a bad receive time, the clock's."""
    if src is not None and not _storable(src):
        src, flags = None, flags | FLAG_SOURCE_TS_INVALID
    if srv is not None and not _storable(srv):
        srv, flags = None, flags | FLAG_SERVER_TS_INVALID
    if not _storable(rcv):
        rcv, flags = wall_clock_ns(), flags | FLAG_RECEIVED_TS_INVALID
    return src, srv, rcv, flags


class UnknownPointError(LookupError):
    """A point id that was never registered with ``register_series``."""

    def __init__(self, point_id: str) -> None:
        super().__init__(f"point {point_id!r} is not registered with the historian (call register_series first)")
        self.point_id = point_id


class HistorianClosedError(RuntimeError):
    """The historian is not open."""


def _write(conn: sqlite3.Connection, sql: str, params: Sequence[Any], many: bool = False) -> list[Any]:
    """One statement (or one executemany) in its own write transaction; returns its rows (RETURNING)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = [] if many else conn.execute(sql, params).fetchall()
        if many:
            conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return rows


class Historian:
    """Durable SQLite store of samples. Open with ``await h.open()`` or ``async with Historian(...)``.

    Samples of points not registered with ``register_series`` are refused with UnknownPointError
    (nothing of that ``append`` call is queued): the pipeline registers every configured point at
    startup, so an unknown point is a wiring bug, not data to file under a guessed type.
    """

    def __init__(self, settings: HistorianSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.metrics = HistorianMetrics(registry if registry is not None else CollectorRegistry())
        self.metrics.pending.set_function(lambda: self.pending_rows)
        self.metrics.healthy.set(1)
        self._ids: dict[str, int] = {}
        self._series: dict[int, SeriesInfo] = {}
        self._decoders: dict[int, Callable[[Any], Any] | None] = {}
        self._batch_series: dict[int, BatchSeries] = {}  # for read_batch
        self._writer: BatchWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._maintenance: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._space = asyncio.Event()
        self._committed = asyncio.Event()  # replaced after every commit; forwarders wait on it
        self._retention_lock = asyncio.Lock()
        self._retention_task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._close_task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None or self._close_task is not None:
            raise RuntimeError("a Historian is opened once")
        self._loop = asyncio.get_running_loop()
        path = self.settings.path
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)

        def open_writer() -> sqlite3.Connection:
            conn = schema.connect(path, self.settings.synchronous, BUSY_TIMEOUT_MS)
            try:
                schema.initialise(conn)
            except BaseException:
                conn.close()
                raise
            return conn

        conn = await asyncio.to_thread(open_writer)
        self._readers = ThreadPoolExecutor(READ_THREADS, "historian-read", initializer=self._init_conn)
        self._maintenance = ThreadPoolExecutor(1, "historian-retention", initializer=self._init_conn)
        try:
            for info in await self.series():
                self._remember(info)
        except BaseException:
            conn.close()
            await self._close_pools()
            raise
        self._writer = BatchWriter(
            conn,
            max_batch=self.settings.max_batch,
            commit_interval_s=self.settings.commit_interval_ms / 1000,
            metrics=self.metrics,
            on_progress=self._progress_from_thread,
            series=self._series,
        )
        self._writer.start()
        self._retention_task = asyncio.create_task(self._retention_loop(), name="historian-retention")
        log.info("historian open: %s (%d series, synchronous=%s)", path, len(self._ids), self.settings.synchronous)

    async def close(self) -> None:
        """Commit everything pending, then close all connections. Idempotent."""
        if self._writer is None:
            return
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._close())
        await asyncio.shield(self._close_task)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _close(self) -> None:
        assert self._writer is not None
        self._stop.set()
        if self._retention_task is not None:
            self._retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention_task
        await asyncio.to_thread(self._writer.stop, CLOSE_TIMEOUT_S)
        self._progress()
        await self._close_pools()
        c = self._writer.counts()
        if c.dead_lettered or c.lost:
            log.warning("historian closed: %d samples committed in this session; %d refused and filed in "
                        "dead_letters (forwarder '%s'), %d lost", c.committed, c.dead_lettered,
                        DEAD_LETTER_FORWARDER, c.lost)
        else:
            log.info("historian closed: %d samples committed in this session", c.committed)

    async def _close_pools(self) -> None:
        for pool in (self._readers, self._maintenance):
            if pool is not None:
                await asyncio.to_thread(pool.shutdown, True)
        self._readers = self._maintenance = None
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _init_conn(self) -> None:
        conn = schema.connect(self.settings.path, self.settings.synchronous, BUSY_TIMEOUT_MS)
        self._local.conn = conn
        with self._conns_lock:
            self._conns.append(conn)

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self._close_task is None

    def _check_open(self) -> BatchWriter:
        if self._writer is None or self._close_task is not None:
            raise HistorianClosedError("the historian is not open")
        return self._writer

    # --- health -------------------------------------------------------------------------

    @property
    def pending_rows(self) -> int:
        return self._writer.pending if self._writer is not None else 0

    @property
    def healthy(self) -> bool:
        """False while writes fail (the rows stay queued and are retried)."""
        return self._writer.healthy if self._writer is not None else True

    @property
    def last_error(self) -> str | None:
        return self._writer.last_error if self._writer is not None else None

    # --- writing ------------------------------------------------------------------------

    async def register_series(self, point_id: str, value_type: str | None, unit: str | None) -> int:
        """Id of the series for point_id, created if new; value type and unit are updated if changed."""
        asset, submodel, path = split_point_id(point_id)
        self._check_open()
        sql = (
            "INSERT INTO series (asset, submodel, path, value_type, unit) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (asset, submodel, path) DO UPDATE SET value_type = excluded.value_type, unit = excluded.unit "
            "RETURNING id"
        )

        rows = await self._read(lambda c: _write(c, sql, (asset, submodel, path, value_type, unit)))
        sid = int(rows[0][0])
        self._remember(SeriesInfo(sid, point_id, asset, submodel, path, value_type, unit))
        return sid

    def _remember(self, info: SeriesInfo) -> None:
        self._series[info.id] = info
        self._decoders[info.id] = decoder(info.value_type)
        self._ids[info.point_id] = info.id
        self._batch_series[info.id] = BatchSeries(info.point_id, self._decoders[info.id])

    async def append(self, samples: Sequence[Sample]) -> None:
        """Queue samples for the writer. Returns at once unless more than max_pending rows are waiting."""
        writer = self._check_open()
        rows = self._rows(samples)
        if not rows:
            return
        while writer.pending >= self.settings.max_pending:
            self._space.clear()
            await self._space.wait()
            writer = self._check_open()
        writer.put(rows)

    def _rows(self, samples: Sequence[Sample]) -> list[Row]:
        """Samples as rows SQLite can store. The gateway's hot path: one dict lookup and one tuple per sample,
        plus the checks that keep a sample whose timestamp SQLite cannot hold (it becomes NULL and flagged:
        connectors already drop implausible times, this catches what does not fit an INTEGER at all)."""
        ids = self._ids
        native = NATIVE
        lo, hi = _I64_MIN, _I64_MAX
        rows: list[Row] = []
        add = rows.append
        for s in samples:
            sid = ids.get(s.point)
            if sid is None:
                raise UnknownPointError(s.point)
            v = s.value
            tv = type(v)
            if tv is float:
                if v != v:
                    v = "NaN"  # SQLite would store NULL
            elif tv not in native:
                v = encode(v)
            src = s.source_ts
            srv = s.server_ts
            rcv = s.received_ts
            flags = s.flags
            try:
                ok = (src is None or lo <= src <= hi) and (srv is None or lo <= srv <= hi) and lo <= rcv <= hi
            except TypeError:
                ok = False
            if not ok:
                src, srv, rcv, flags = _storable_times(src, srv, rcv, flags)
            ts = src if src is not None else (srv if srv is not None else rcv)
            add((sid, ts, v, s.status, src, srv, rcv, flags))
        return rows

    async def flush(self) -> None:
        """Return once everything appended before this call is committed."""
        writer = self._check_open()
        target = writer.request_flush()
        if writer.done >= target:
            return
        fut = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((target, fut))
        await fut

    def _progress_from_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._progress)

    def _progress(self) -> None:
        """On the loop: release flush waiters and backpressured appenders the writer has caught up with."""
        writer = self._writer
        if writer is None:
            return
        self._committed.set()
        self._committed = asyncio.Event()
        done = writer.done
        waiting = []
        for target, fut in self._flush_waiters:
            if done >= target:
                if not fut.done():
                    fut.set_result(None)
            else:
                waiting.append((target, fut))
        self._flush_waiters = waiting
        if writer.pending < self.settings.max_pending or self._close_task is not None:
            self._space.set()

    # --- reading ------------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None or self._close_task is not None:
            raise HistorianClosedError("the historian is not open")
        return await asyncio.get_running_loop().run_in_executor(self._readers, lambda: fn(self._local.conn))

    def _series_id(self, point_id: str) -> int:
        sid = self._ids.get(point_id)
        if sid is None:
            raise UnknownPointError(point_id)
        return sid

    def _history_rows(self, sid: int, rows: list[tuple[Any, ...]]) -> list[HistoryRow]:
        dec = self._decoders.get(sid)
        if dec is None:
            return [HistoryRow(*r) for r in rows]
        return [HistoryRow(r[0], r[1], dec(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]

    async def query(
        self,
        asset: str,
        submodel: str,
        path: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int = 1000,
        descending: bool = False,
    ) -> list[HistoryRow]:
        """Samples with start_ns <= ts < end_ns, oldest first (newest first if descending), at most limit."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        sid = self._series_id(f"{asset}/{submodel}/{path}")
        sql = f"SELECT {_ROW_COLS} FROM samples WHERE series = ?"
        params: list[int] = [sid]
        if start_ns is not None:
            sql += " AND ts >= ?"
            params.append(start_ns)
        if end_ns is not None:
            sql += " AND ts < ?"
            params.append(end_ns)
        sql += " ORDER BY ts DESC, seq DESC LIMIT ?" if descending else " ORDER BY ts, seq LIMIT ?"
        params.append(limit)
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return self._history_rows(sid, rows)

    async def raw_rows(self, point_id: str, start_ns: int | None = None, end_ns: int | None = None,
                       limit: int = 1000, descending: bool = False) -> list[tuple[int, int, Any, int, int]]:
        """Like `query`, as plain (seq, ts, value, status, recv_ts) tuples: for readers of millions of rows
        (the KPI recompute), where building a HistoryRow per row would cost more than SQLite does."""
        sid = self._series_id(point_id)
        sql = "SELECT seq, ts, value, status, recv_ts FROM samples WHERE series = ?"
        params: list[int] = [sid]
        if start_ns is not None:
            sql += " AND ts >= ?"
            params.append(start_ns)
        if end_ns is not None:
            sql += " AND ts < ?"
            params.append(end_ns)
        sql += " ORDER BY ts DESC, seq DESC LIMIT ?" if descending else " ORDER BY ts, seq LIMIT ?"
        params.append(limit)
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        dec = self._decoders.get(sid)
        if dec is not None:
            rows = [(r[0], r[1], dec(r[2]) if r[2] is not None else None, r[3], r[4]) for r in rows]
        return rows

    def series_id(self, point_id: str) -> int:
        """The `samples.series` key of a point (UnknownPointError if it was never registered)."""
        return self._series_id(point_id)

    async def select(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        """A read-only query on a reader connection, for code that aggregates in SQL (the KPI recompute)."""
        return await self._read(lambda c: c.execute(sql, params).fetchall())

    async def aggregate(
        self, asset: str, submodel: str, path: str, start_ns: int, end_ns: int, bucket_ns: int
    ) -> list[Bucket]:
        """Per-bucket count/min/max/avg/last of the good, non-null numeric samples in [start_ns, end_ns).

        Buckets start at multiples of bucket_ns since the epoch; empty buckets are left out.
        """
        if bucket_ns <= 0:
            raise ValueError("bucket_ns must be > 0")
        sid = self._series_id(f"{asset}/{submodel}/{path}")
        def read(lo: int, hi: int) -> Callable[[sqlite3.Connection], list[tuple[Any, ...]]]:
            def run(c: sqlite3.Connection) -> list[tuple[Any, ...]]:
                rows = c.execute(_AGGREGATE, {"b": bucket_ns, "sid": sid, "start": lo, "end": hi,
                                              "mask": SEVERITY_MASK}).fetchall()
                last = {"sid": sid, "mask": SEVERITY_MASK, "ts": 0}
                out = []
                for r in rows:
                    last["ts"] = r[6]
                    out.append((*r, c.execute(_LAST_AT, last).fetchone()[0]))
                return out
            return run

        # two halves split at a bucket boundary, on two reader connections (WAL readers run side by side;
        # sqlite3 releases the GIL): a long trend takes about half the time on a machine with two cores
        mid = start_ns + (end_ns - start_ns) // 2
        mid -= mid % bucket_ns
        if start_ns < mid < end_ns:
            first, second = await asyncio.gather(self._read(read(start_ns, mid)), self._read(read(mid, end_ns)))
            rows = first + second
        else:
            rows = await self._read(read(start_ns, end_ns))
        dec = self._decoders.get(sid) or (lambda v: v)
        return [Bucket(r[0], r[1], dec(r[2]), dec(r[3]), r[4], dec(r[7]), r[5], r[6]) for r in rows]

    async def latest(self, point_id: str) -> HistoryRow | None:
        """The sample with the newest timestamp of a point, or None if it has none."""
        sid = self._series_id(point_id)
        sql = f"SELECT {_ROW_COLS} FROM samples WHERE series = ? ORDER BY ts DESC, seq DESC LIMIT 1"
        rows = await self._read(lambda c: c.execute(sql, (sid,)).fetchall())
        return self._history_rows(sid, rows)[0] if rows else None

    async def series(self) -> list[SeriesInfo]:
        sql = "SELECT id, asset, submodel, path, value_type, unit FROM series ORDER BY id"
        rows = await self._read(lambda c: c.execute(sql).fetchall())
        return [SeriesInfo(r[0], f"{r[1]}/{r[2]}/{r[3]}", r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def count(self, point_id: str | None = None) -> int:
        """Committed samples (of one point, or all). Counts rows, so it is O(n)."""
        if point_id is None:
            return await self._read(lambda c: c.execute("SELECT count(*) FROM samples").fetchone()[0])
        sid = self._series_id(point_id)
        sql = "SELECT count(*) FROM samples WHERE series = ?"
        return await self._read(lambda c: c.execute(sql, (sid,)).fetchone()[0])

    @property
    def committed_this_session(self) -> int:
        """Samples committed (rows in ``samples``) since open(): cheap, unlike count() (a table scan)."""
        return self.counts().committed

    def counts(self, asset: str | None = None) -> WriteCounts:
        """What became of the samples appended since open(): committed, dead-lettered, lost (of one asset)."""
        return self._writer.counts(asset) if self._writer is not None else WriteCounts()

    def refusals(self, window_s: float) -> Refusals:
        """Samples refused (dead-lettered or lost) in the last window_s seconds, with the latest reason."""
        if self._writer is None:
            return Refusals(0, window_s, None, None, None)
        return self._writer.refusals(window_s)

    async def stats(self) -> HistorianStats:
        path = str(self.settings.path)

        def run(c: sqlite3.Connection) -> tuple[Any, ...]:
            rows = c.execute("SELECT count(*) FROM samples").fetchone()[0]
            # per series, so min/max come from the (series, ts) index instead of a table scan
            n, oldest, newest = c.execute(
                "SELECT count(*), min((SELECT min(ts) FROM samples WHERE series = s.id)), "
                "max((SELECT max(ts) FROM samples WHERE series = s.id)) FROM series s"
            ).fetchone()
            used = retention.used_bytes(c)
            sizes = [os.path.getsize(p) if os.path.exists(p) else 0 for p in (path, path + "-wal")]
            return rows, n, sizes[0], sizes[1], used, oldest, newest

        rows, n, file_bytes, wal_bytes, used, oldest, newest = await self._read(run)
        return HistorianStats(rows, n, file_bytes, wal_bytes, used, oldest, newest,
                              self.pending_rows, self.healthy, self.last_error)

    # --- forwarders ---------------------------------------------------------------------

    async def get_cursor(self, name: str) -> int | None:
        row = await self._read(lambda c: c.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone())
        return None if row is None else int(row[0])

    async def set_cursor(self, name: str, seq: int) -> None:
        """Persist a forwarder's cursor: the last seq the peer acknowledged (rows above it are kept)."""
        if not name or seq < 0:
            raise ValueError("a cursor needs a name and a seq >= 0")
        sql = (
            "INSERT INTO cursors (name, seq, updated_ns) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_ns = excluded.updated_ns"
        )
        await self._read(lambda c: _write(c, sql, (name, seq, wall_clock_ns())))

    async def delete_cursor(self, name: str) -> None:
        """Forget a forwarder (its unacknowledged rows are no longer protected from retention)."""
        await self._read(lambda c: _write(c, "DELETE FROM cursors WHERE name = ?", (name,)))

    async def cursors(self) -> dict[str, int]:
        rows = await self._read(lambda c: c.execute("SELECT name, seq FROM cursors ORDER BY name").fetchall())
        return {name: int(seq) for name, seq in rows}

    async def max_seq(self) -> int:
        """The newest committed seq (0 when empty): cheap, the rowid's maximum."""
        return await self._read(lambda c: int(c.execute("SELECT coalesce(max(seq), 0) FROM samples").fetchone()[0]))

    async def wait_for_commit(self, timeout: float) -> None:
        """Return after the next commit, or after `timeout` s: lets a forwarder sleep instead of polling."""
        event = self._committed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def read_batch(self, seq: int, limit: int) -> RecordBatch:
        """Committed samples after ``seq`` as the forwarders send them: rows as SQLite returns them.

        The forwarders' hot path does no per-row Python work here: values stay in their stored form
        and the batch turns rows into Records only for a sink that asks (see connectors.batch).
        """
        rows = await self._read(lambda c: c.execute(READ_BATCH_SQL, (seq, limit)).fetchall())
        return RecordBatch(rows, self._batch_series, self._sample_times)

    def batch_between(self, first: int, last: int) -> RecordBatch:
        """The committed samples first..last as `read_batch` returns them (blocking: a sink's thread reads the
        Records behind a worker's `EncodedBatch` with it, see gateway.forward_worker)."""
        sql = "SELECT seq, series, value, status, ts FROM samples WHERE seq BETWEEN ? AND ? ORDER BY seq"
        return RecordBatch(self._blocking(lambda c: c.execute(sql, (first, last)).fetchall()), self._batch_series,
                           self._sample_times)

    def _sample_times(self, first: int, last: int) -> dict[int, SampleTimes]:
        """Source, server and receive times of the samples first..last (blocking: a batch's Records need them)."""
        sql = "SELECT seq, source_ts, server_ts, recv_ts FROM samples WHERE seq BETWEEN ? AND ?"
        return self._blocking(lambda c: {seq: (src, srv, rcv) for seq, src, srv, rcv in c.execute(sql, (first, last))})

    def _blocking(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` on a connection, here and now (blocking): a historian thread's own, else one opened for it."""
        self._check_open()
        own: sqlite3.Connection | None = getattr(self._local, "conn", None)  # called in a historian thread
        # else a connection of its own: the caller is a sink's worker thread
        conn = own or schema.connect(self.settings.path, self.settings.synchronous, BUSY_TIMEOUT_MS)
        try:
            return fn(conn)
        finally:
            if conn is not own:
                conn.close()

    async def read_records(self, seq: int, limit: int) -> list[Record]:
        """Like read_batch, as a list of Records."""
        batch = await self.read_batch(seq, limit)
        return await self._read(lambda _c: batch.records()) if batch else []

    async def add_dead_letters(self, forwarder: str, rejected: Sequence[tuple[Record, str]]) -> None:
        """File samples a forwarder's peer refused for good, with the reason, so they are not lost silently."""
        if not rejected:
            return
        now = wall_clock_ns()
        rows = [(forwarder, r.seq, r.sample.point, r.sample.ts,
                 encode(r.sample.value) if type(r.sample.value) not in NATIVE else r.sample.value,
                 r.sample.status, reason[:2000], now) for r, reason in rejected]
        sql = ("INSERT INTO dead_letters (forwarder, seq, point, ts, value, status, reason, created_ns) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        await self._read(lambda c: _write(c, sql, rows, many=True))

    async def dead_letters(self, forwarder: str | None = None, limit: int = 1000) -> list[tuple[Any, ...]]:
        """(forwarder, seq, point, ts, value, status, reason) of refused samples, oldest first.

        Forwarder 'historian' (seq 0) holds the samples the historian itself could not store.
        """
        sql = "SELECT forwarder, seq, point, ts, value, status, reason FROM dead_letters"
        params: tuple[Any, ...] = ()
        if forwarder is not None:
            sql += " WHERE forwarder = ?"
            params = (forwarder,)
        sql += " ORDER BY id LIMIT ?"
        return await self._read(lambda c: c.execute(sql, (*params, limit)).fetchall())

    # --- retention ----------------------------------------------------------------------

    async def enforce_retention(self, now_ns: int | None = None) -> RetentionResult:
        """One retention pass now (see retention.py); also run every check_interval_s while open."""
        self._check_open()
        assert self._maintenance is not None
        cfg = self.settings.retention
        now = now_ns if now_ns is not None else wall_clock_ns()
        async with self._retention_lock:
            res = await asyncio.get_running_loop().run_in_executor(
                self._maintenance, lambda: retention.enforce(self._local.conn, cfg, now, stop=self._stop)
            )
        if res.deleted_age:
            self.metrics.retention_deleted.labels(reason="age").inc(res.deleted_age)
        if res.deleted_size:
            self.metrics.retention_deleted.labels(reason="size").inc(res.deleted_size)
        if res.dropped_unforwarded:
            self.metrics.retention_deleted.labels(reason="disk_cap_unforwarded").inc(res.dropped_unforwarded)
        return res

    async def _retention_loop(self) -> None:
        while True:
            # the first pass comes one interval after open: opening stays fast, and a caller that
            # wants a pass right away calls enforce_retention()
            await asyncio.sleep(self.settings.retention.check_interval_s)
            try:
                await self.enforce_retention()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("historian retention failed; retrying in %s s", self.settings.retention.check_interval_s)
