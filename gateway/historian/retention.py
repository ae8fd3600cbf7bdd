"""Retention: keep the historian within its age and size limits without losing unforwarded data.

Runs on its own connection in small transactions so the writer is never
locked out for long. A row a forwarder has not acknowledged (``seq`` above the
smallest cursor) is never deleted, whatever the limits say: store-and-forward
wins over disk budget, and the pass reports (and logs) what it had to keep.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading

from gateway.config import RetentionConfig
from gateway.historian.records import RetentionResult

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000
VACUUM_CHUNK_PAGES = 2048

# evaluated inside each DELETE, so a cursor created meanwhile is honoured atomically
_DELETABLE = (
    "seq <= coalesce((SELECT min(seq) FROM cursors), 9223372036854775807)"
    # the newest row stays, so SQLite never hands out a seq a forwarder has already seen
    " AND seq < (SELECT max(seq) FROM samples)"
)
_DELETE_OLD = (
    "DELETE FROM samples WHERE seq IN "
    f"(SELECT seq FROM samples WHERE series = ? AND ts < ? AND {_DELETABLE} LIMIT ?)"
)
# size retention removes the oldest by insertion order: that is cheap (rowid order) and frees whole pages
_DELETE_FIRST = f"DELETE FROM samples WHERE seq IN (SELECT seq FROM samples WHERE {_DELETABLE} ORDER BY seq LIMIT ?)"
# the hard disk cap ignores cursors (but still keeps the newest row, for the same reason as above)
_DELETE_FIRST_FORCED = (
    "DELETE FROM samples WHERE seq IN (SELECT seq FROM samples "
    "WHERE seq < (SELECT max(seq) FROM samples) ORDER BY seq LIMIT ?)"
)


def _delete(conn: sqlite3.Connection, sql: str, params: tuple[int, ...]) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(sql, params).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return n


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes in use by the database (free pages excluded): what max_size_mb limits."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


def enforce(
    conn: sqlite3.Connection,
    cfg: RetentionConfig,
    now_ns: int,
    chunk: int = CHUNK_ROWS,
    stop: threading.Event | None = None,
) -> RetentionResult:
    """One retention pass (blocking; run it off the event loop). Setting ``stop`` ends it after the current chunk."""
    stop = stop or threading.Event()
    res = RetentionResult()
    row = conn.execute("SELECT name, seq FROM cursors ORDER BY seq LIMIT 1").fetchone()
    res.min_cursor = (row[0], row[1]) if row else None

    if cfg.max_age_days is not None:
        cutoff = now_ns - int(cfg.max_age_days * 86_400 * 1_000_000_000)
        # per series, so every statement is an index range scan on (series, ts)
        for (sid,) in conn.execute("SELECT id FROM series").fetchall():
            if stop.is_set():
                break
            while True:
                n = _delete(conn, _DELETE_OLD, (sid, cutoff, chunk))
                res.deleted_age += n
                if n < chunk or stop.is_set():
                    break
            if res.min_cursor is not None:
                q = "SELECT count(*) FROM samples WHERE series = ? AND ts < ? AND seq > ?"
                res.kept_age += conn.execute(q, (sid, cutoff, res.min_cursor[1])).fetchone()[0]

    if cfg.max_size_mb is not None:
        limit = int(cfg.max_size_mb * 1024 * 1024)
        while (used := used_bytes(conn)) > limit and not stop.is_set():
            n = _delete(conn, _DELETE_FIRST, (chunk,))
            res.deleted_size += n
            if n == 0:
                res.over_size = True
                rows = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
                if rows:
                    res.kept_size = min(rows, math.ceil((used - limit) / (used / rows)))
                break

    if cfg.max_disk_mb is not None:
        hard = int(cfg.max_disk_mb * 1024 * 1024)
        while used_bytes(conn) > hard and not stop.is_set():
            n = _delete(conn, _DELETE_FIRST_FORCED, (chunk,))
            res.dropped_unforwarded += n
            if n == 0:
                break

    res.vacuumed_pages = _incremental_vacuum(conn, stop)
    _log(res, cfg)
    return res


def _incremental_vacuum(conn: sqlite3.Connection, stop: threading.Event) -> int:
    """Give free pages back to the file system, a bounded number per transaction."""
    total = 0
    while (free := conn.execute("PRAGMA freelist_count").fetchone()[0]) > 0 and not stop.is_set():
        conn.execute(f"PRAGMA incremental_vacuum({VACUUM_CHUNK_PAGES})").fetchall()
        after = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if after >= free:  # auto_vacuum is off (file created elsewhere): nothing to do
            break
        total += free - after
    if total:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return total


def _log(res: RetentionResult, cfg: RetentionConfig) -> None:
    if res.dropped_unforwarded:
        name, seq = res.min_cursor or ("?", -1)
        log.error("historian retention: disk cap of %s MB reached: dropped the %d oldest samples that forwarder "
                  "%r (cursor seq %d) had not sent yet", cfg.max_disk_mb, res.dropped_unforwarded, name, seq)
    if res.deleted:
        log.info("historian retention: deleted %d samples older than %s days and %d to stay under %s MB",
                 res.deleted_age, cfg.max_age_days, res.deleted_size, cfg.max_size_mb)
    if res.over_size and res.min_cursor is None:
        log.warning("historian retention: still over %s MB with nothing left to delete", cfg.max_size_mb)
    elif res.kept_age or res.over_size:
        name, seq = res.min_cursor or ("?", -1)
        log.warning(
            "historian retention: kept %d samples older than %s days%s because forwarder cursor %r (seq %d) "
            "has not acknowledged them",
            res.kept_age, cfg.max_age_days,
            f" and is over {cfg.max_size_mb} MB by about {res.kept_size} samples" if res.over_size else "",
            name, seq,
        )
