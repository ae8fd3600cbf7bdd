"""The historian's single writer thread: group commit of queued rows.

One thread owns the write connection, so SQLite never sees competing writers
from the gateway and the event loop never blocks on disk. Rows wait at most
``commit_interval`` (or until ``max_batch`` are queued) and are then written
with one ``executemany`` in one transaction: one fsync per batch, not per row.
A failed batch stays queued and is retried with backoff, so a full disk or a
locked file stalls the historian instead of losing data. A row SQLite refuses
for what it holds (a trigger, text with a lone surrogate) is the one exception:
it cannot succeed on retry, so it goes to the dead-letter table with the reason,
in the same transaction as the rest of its batch, counted and logged once per
cause per minute; only if even that row cannot be written is the sample lost,
and that is counted and logged as such.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter

from connectors.ratelimit import RateLimitedLog
from connectors.sample import now_ns, ns_to_iso
from gateway.historian.metrics import HistorianMetrics
from gateway.historian.records import Refusals, SeriesInfo, WriteCounts
from gateway.historian.values import dead_letter_value

log = logging.getLogger(__name__)

# series, ts, value, status, source_ts, server_ts, recv_ts, flags
Row = tuple[int, int, object, int, int | None, int | None, int, int]

INSERT = (
    "INSERT INTO samples (series, ts, value, status, source_ts, server_ts, recv_ts, flags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
DEAD_LETTER = (
    "INSERT INTO dead_letters (forwarder, seq, point, ts, value, status, reason, created_ns) "
    "VALUES ('historian', 0, ?, ?, ?, ?, ?, ?)"
)
DEAD_LETTER_FORWARDER = "historian"  # the dead_letters.forwarder of samples the historian refused (seq 0)
_SERIES = itemgetter(0)

# errors that say "this row cannot be stored" rather than "the database cannot be written right now"
_DATA_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,
    ValueError,
    TypeError,
    OverflowError,
)

_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 5.0
_ERROR_LOG_EVERY_S = 60.0
_REFUSAL_HISTORY = 4096  # batches with refusals remembered for refusals(window)


def _cause(e: BaseException) -> str:
    # SQLite's messages name the cause (a constraint, a trigger's text); Python's name the row (a position)
    return f"{type(e).__name__}: {e}" if isinstance(e, sqlite3.Error) else type(e).__name__


class _Counts:
    __slots__ = ("committed", "dead_lettered", "last_refusal", "lost")

    def __init__(self) -> None:
        self.committed = self.dead_lettered = self.lost = 0
        self.last_refusal: str | None = None

    def freeze(self) -> WriteCounts:
        return WriteCounts(self.committed, self.dead_lettered, self.lost, self.last_refusal)


class BatchWriter:
    """Queue of rows plus the thread that commits them. ``put`` and ``request_flush`` are thread-safe."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        max_batch: int,
        commit_interval_s: float,
        metrics: HistorianMetrics,
        on_progress: Callable[[], None],
        series: Mapping[int, SeriesInfo] | None = None,
    ) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._interval = commit_interval_s
        self._metrics = metrics
        self._on_progress = on_progress
        self._series: Mapping[int, SeriesInfo] = series if series is not None else {}
        self._cv = threading.Condition()
        self._pending: list[Row] = []
        self._first_pending_at = 0.0
        self._in_flight = 0
        self._taken = 0
        self._urgent_upto = 0
        self._stopping = False
        self._give_up_at: float | None = None
        self.appended = 0  # rows ever queued
        self.done = 0  # rows committed, dead-lettered or lost: a prefix of appended (what flush waits for)
        self._total = _Counts()  # what became of them (under _cv)
        self._by_asset: dict[str, _Counts] = {}
        self._refusals: deque[tuple[float, int, str, str]] = deque(maxlen=_REFUSAL_HISTORY)
        self._log = RateLimitedLog(log, _ERROR_LOG_EVERY_S)
        self.healthy = True
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)

    @property
    def pending(self) -> int:
        return self.appended - self.done

    def counts(self, asset: str | None = None) -> WriteCounts:
        """Committed, dead-lettered and lost rows since start (of one asset's series, or all)."""
        with self._cv:
            c = self._total if asset is None else self._by_asset.get(asset)
            return c.freeze() if c is not None else WriteCounts()

    def refusals(self, window_s: float) -> Refusals:
        """Samples refused (dead-lettered or lost) in the last window_s seconds, with the latest reason."""
        now = time.monotonic()
        with self._cv:
            recent = [r for r in self._refusals if now - r[0] <= window_s]
        if not recent:
            return Refusals(0, window_s, None, None, None)
        t, _, reason, point = recent[-1]
        return Refusals(sum(r[1] for r in recent), window_s, reason, point, now - t)

    def start(self) -> None:
        self._thread.start()

    def put(self, rows: list[Row]) -> None:
        with self._cv:
            if self._stopping:
                raise RuntimeError("the historian writer is stopped")
            if not self._pending:
                self._first_pending_at = time.monotonic()
                self._cv.notify()
            self._pending += rows
            self.appended += len(rows)
            if len(self._pending) >= self._max_batch:
                self._cv.notify()

    def request_flush(self) -> int:
        """Ask for everything queued so far to be committed now; returns the ``done`` value to wait for."""
        with self._cv:
            self._urgent_upto = self.appended
            self._cv.notify()
            return self.appended

    def stop(self, timeout_s: float) -> None:
        """Commit what is queued, then end the thread; after timeout_s of failing writes, give up (loudly)."""
        with self._cv:
            self._stopping = True
            self._give_up_at = time.monotonic() + timeout_s
            self._cv.notify()
        self._thread.join()

    # --- writer thread ----------------------------------------------------------------

    def _take(self) -> list[Row] | None:
        """Wait for the next batch (group commit window); None when stopping and drained."""
        with self._cv:
            while not self._pending and not self._stopping:
                self._cv.wait()
            if not self._pending:
                return None
            deadline = self._first_pending_at + self._interval
            while (
                len(self._pending) < self._max_batch
                and not self._stopping
                and self._urgent_upto <= self._taken
                and (remaining := deadline - time.monotonic()) > 0
            ):
                self._cv.wait(remaining)
            if len(self._pending) <= self._max_batch:
                batch, self._pending = self._pending, []
            else:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]  # the rest has waited long enough: no new window
            self._taken += len(batch)
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._write_until_done(batch)
                self._log.flush()
        finally:
            self._log.flush(force=True)
            try:
                self._conn.execute("PRAGMA optimize")
                self._conn.close()
            except sqlite3.Error as e:
                log.warning("historian: closing the write connection failed: %s", e)

    def _write_until_done(self, batch: list[Row]) -> None:
        backoff = _BACKOFF_MIN_S
        failures = 0
        last_logged = 0.0
        while True:
            t0 = time.perf_counter()
            try:
                refused, lost = self._commit(batch)
            except Exception as e:
                failures += 1
                self._metrics.write_errors.inc()
                self.healthy = False
                self._metrics.healthy.set(0)
                self.last_error = f"{type(e).__name__}: {e}"
                now = time.monotonic()
                if failures == 1 or now - last_logged >= _ERROR_LOG_EVERY_S:
                    last_logged = now
                    log.error(
                        "historian: cannot commit %d samples (attempt %d, %d queued): %s; keeping them and retrying",
                        len(batch), failures, self.pending, self.last_error,
                    )
                if self._give_up_at is not None and now >= self._give_up_at:
                    self._give_up(batch)
                    return
                with self._cv:
                    self._cv.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            dt = time.perf_counter() - t0
            self._metrics.commits.inc()
            self._metrics.commit_seconds.observe(dt)
            self._metrics.rows_written.inc(len(batch) - len(refused))
            if failures:
                log.warning("historian: write recovered after %d failed attempts", failures)
            self.healthy = True
            self._metrics.healthy.set(1)
            self.last_error = None
            if refused:
                self._report_refused(refused, lost)
            by_series = Counter(map(_SERIES, batch))
            for row, _ in refused:
                by_series[row[0]] -= 1
            with self._cv:
                self._account(by_series.items(), "committed")
                self.done += len(batch)
            self._notify()
            return

    def _commit(self, batch: list[Row]) -> tuple[list[tuple[Row, BaseException]], list[Row]]:
        """Write the batch in one transaction.

        Returns the rows SQLite refused (each with its error; they are in dead_letters) and those of them
        that could not even be dead-lettered (lost). A failure of the database itself (locked, full, I/O)
        raises: nothing of the batch is committed and the caller retries it.
        """
        conn = self._conn
        refused: list[tuple[Row, BaseException]] = []
        lost: list[Row] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                conn.executemany(INSERT, batch)
            except _DATA_ERRORS:
                # one bad row must not block the queue forever, nor take its batch with it: redo the batch
                # row by row; what SQLite refuses goes to dead_letters, in this same transaction
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                for row in batch:
                    try:
                        conn.execute(INSERT, row)
                    except _DATA_ERRORS as e:
                        refused.append((row, e))
                lost = self._file_dead_letters(refused)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as e:
                    log.warning("historian: rollback failed: %s", e)
            raise
        return refused, lost

    def _point(self, sid: int) -> tuple[str, str]:
        """(point id, asset) of a series id."""
        info = self._series.get(sid)
        return (info.point_id, info.asset) if info is not None else (f"#{sid}", f"#{sid}")

    def _file_dead_letters(self, refused: list[tuple[Row, BaseException]]) -> list[Row]:
        """Dead-letter rows for refused samples (inside the open transaction); returns those that could not be."""
        now = now_ns()
        lost: list[Row] = []
        for row, err in refused:
            sid, ts, value, status = row[0], row[1], row[2], row[3]
            reason = f"the historian cannot store this sample: {type(err).__name__}: {err}"[:2000]
            point = self._point(sid)[0]
            try:
                self._conn.execute(DEAD_LETTER, (point, ts, value, status, reason, now))
            except _DATA_ERRORS:
                try:  # the value itself is what SQLite refuses: keep it as text that says exactly what it was
                    self._conn.execute(DEAD_LETTER, (point, ts, dead_letter_value(value), status, reason, now))
                except _DATA_ERRORS as e:
                    lost.append(row)
                    self._log.log(logging.CRITICAL, ("lost", _cause(e)),
                                  "historian: a sample of %s could not be stored nor dead-lettered (%s: %s); "
                                  "it is lost", point, type(e).__name__, e)
        return lost

    def _report_refused(self, refused: list[tuple[Row, BaseException]], lost: list[Row]) -> None:
        """Count, remember and log (once per cause per interval) the rows SQLite refused."""
        self._metrics.rejected.inc(len(refused) - len(lost))
        if lost:
            self._metrics.lost.inc(len(lost))
        by_cause: dict[str, tuple[int, Row, BaseException]] = {}
        lost_ids = {id(row) for row in lost}  # logged as lost already
        for row, err in refused:
            if id(row) in lost_ids:
                continue
            cause = _cause(err)
            n = by_cause[cause][0] if cause in by_cause else 0
            by_cause[cause] = (n + 1, row, err)
        for cause, (n, row, err) in by_cause.items():
            self._log.error(("refused", cause), "historian: refused to store samples (latest: %s at ts %s: %s: %s); "
                            "each is in the dead_letters table (forwarder '%s') with the reason",
                            self._point(row[0])[0], row[1], type(err).__name__, err, DEAD_LETTER_FORWARDER, count=n)
        last_row, last_err = refused[-1]
        lost_by_series = Counter(map(_SERIES, lost))
        dead_by_series = Counter(row[0] for row, _ in refused)
        dead_by_series.subtract(lost_by_series)
        when = ns_to_iso(now_ns())
        with self._cv:
            self._refusals.append((time.monotonic(), len(refused), f"{type(last_err).__name__}: {last_err}",
                                   self._point(last_row[0])[0]))
            self._account(dead_by_series.items(), "dead_lettered")
            self._account(lost_by_series.items(), "lost")
            for row, err in refused:
                point, asset = self._point(row[0])
                text = f"{when} {point}: {type(err).__name__}: {err}"
                self._total.last_refusal = text
                c = self._by_asset.get(asset)
                if c is not None:  # made by _account above
                    c.last_refusal = text

    def _account(self, by_series: Iterable[tuple[int, int]], field: str) -> None:
        """Add per-series row counts to the total and to their assets' counts (caller holds _cv)."""
        total = 0
        for sid, n in by_series:
            if n:
                asset = self._point(sid)[1]
                c = self._by_asset.get(asset)
                if c is None:
                    c = self._by_asset[asset] = _Counts()
                setattr(c, field, getattr(c, field) + n)
                total += n
        setattr(self._total, field, getattr(self._total, field) + total)

    def _give_up(self, batch: list[Row]) -> None:
        with self._cv:
            rows = batch + self._pending
            self._pending = []
            self.done = self.appended
            self._account(Counter(map(_SERIES, rows)).items(), "lost")
        self._metrics.lost.inc(len(rows))
        log.critical("historian: shutting down with %d samples that could not be written; they are lost (%s)",
                     len(rows), self.last_error)
        self._notify()

    def _notify(self) -> None:
        try:
            self._on_progress()
        except Exception:  # the event loop may already be gone at interpreter exit
            log.debug("historian: progress callback failed", exc_info=True)
