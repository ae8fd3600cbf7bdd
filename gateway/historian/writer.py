"""The historian's single writer thread: group commit of queued rows.

One thread owns the write connection, so SQLite never sees competing writers
from the gateway and the event loop never blocks on disk. Rows wait at most
``commit_interval`` (or until ``max_batch`` are queued) and are then written
with one ``executemany`` in one transaction: one fsync per batch, not per row.
A failed batch stays queued and is retried with backoff, so a full disk or a
locked file stalls the historian instead of losing data.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from gateway.historian.metrics import HistorianMetrics

log = logging.getLogger(__name__)

Row = tuple[int, int, object, int, int | None, int | None, int]

INSERT = (
    "INSERT INTO samples (series, ts, value, status, source_ts, server_ts, recv_ts) VALUES (?, ?, ?, ?, ?, ?, ?)"
)

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
    ) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._interval = commit_interval_s
        self._metrics = metrics
        self._on_progress = on_progress
        self._cv = threading.Condition()
        self._pending: list[Row] = []
        self._first_pending_at = 0.0
        self._in_flight = 0
        self._taken = 0
        self._urgent_upto = 0
        self._stopping = False
        self._give_up_at: float | None = None
        self.appended = 0  # rows ever queued
        self.done = 0  # rows committed (or rejected as unstorable, or given up at shutdown): a prefix of appended
        self.healthy = True
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)

    @property
    def pending(self) -> int:
        return self.appended - self.done

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
        finally:
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
                rejected = self._commit(batch)
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
            self._metrics.rows_written.inc(len(batch) - rejected)
            if failures:
                log.warning("historian: write recovered after %d failed attempts", failures)
            self.healthy = True
            self._metrics.healthy.set(1)
            self.last_error = None
            with self._cv:
                self.done += len(batch)
            self._notify()
            return

    def _commit(self, batch: list[Row]) -> int:
        """Write the batch in one transaction; returns how many rows were rejected as unstorable."""
        conn = self._conn
        rejected = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                conn.executemany(INSERT, batch)
            except _DATA_ERRORS:
                # one bad row (say, text with a lone surrogate) must not block the queue forever:
                # redo the batch row by row and drop only what SQLite refuses
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                for row in batch:
                    try:
                        conn.execute(INSERT, row)
                    except _DATA_ERRORS as e:
                        rejected += 1
                        log.error("historian: dropping a sample SQLite cannot store (series %s, ts %s): %s",
                                  row[0], row[1], e)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as e:
                    log.warning("historian: rollback failed: %s", e)
            raise
        if rejected:
            self._metrics.rejected.inc(rejected)
        return rejected

    def _give_up(self, batch: list[Row]) -> None:
        with self._cv:
            lost = len(batch) + len(self._pending)
            self._pending = []
            self.done = self.appended
        log.critical("historian: shutting down with %d samples that could not be written; they are lost (%s)",
                     lost, self.last_error)
        self._notify()

    def _notify(self) -> None:
        try:
            self._on_progress()
        except Exception:  # the event loop may already be gone at interpreter exit
            log.debug("historian: progress callback failed", exc_info=True)
