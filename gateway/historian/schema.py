"""SQLite connection setup and the historian's schema, versioned with ``PRAGMA user_version``.

Kept apart from the store so that the on-disk format (and how old files are
upgraded) is reviewed in one place: a gateway runs for years, and a file
written by an older release must open in a newer one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

_CREATE_V1 = """
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    asset TEXT NOT NULL,
    submodel TEXT NOT NULL,
    path TEXT NOT NULL,
    value_type TEXT,
    unit TEXT,
    UNIQUE (asset, submodel, path)
);
-- seq is the rowid: the insertion order forwarders keep their cursors in.
-- Retention never deletes the newest row, so a rowid is never handed out twice.
CREATE TABLE samples (
    seq INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value,
    status INTEGER NOT NULL,
    source_ts INTEGER,
    server_ts INTEGER,
    recv_ts INTEGER NOT NULL
);
CREATE INDEX samples_series_ts ON samples (series, ts);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
);
"""

# v2: records a forwarder's peer refused for good (e.g. an HTTP 400 for that line), kept for inspection
_CREATE_V2 = """
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    forwarder TEXT NOT NULL,
    seq INTEGER NOT NULL,
    point TEXT NOT NULL,
    ts INTEGER NOT NULL,
    value,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX dead_letters_forwarder ON dead_letters (forwarder, id);
"""


# v3: Sample.flags (connectors.sample.FLAG_*): which field was repaired to keep the sample, e.g. a source
# timestamp that was no time and is stored as NULL. Adding a column with a constant default rewrites no row.
# Since v3 the historian files samples it cannot store in dead_letters too (forwarder = 'historian', seq 0).
_CREATE_V3 = """
ALTER TABLE samples ADD COLUMN flags INTEGER NOT NULL DEFAULT 0
"""


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    for stmt in script.split(";"):
        if stmt.strip():
            conn.execute(stmt)


# MIGRATIONS[v] upgrades a version-v database to v + 1, inside the open transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: lambda conn: _execute_script(conn, _CREATE_V2),
    2: lambda conn: _execute_script(conn, _CREATE_V3),
}


class SchemaError(RuntimeError):
    """The database file cannot be used by this version of the gateway."""


def connect(path: Path, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit) with the per-connection pragmas."""
    # check_same_thread=False: connections are created in one thread and used and closed in another,
    # but each is only ever used by one thread at a time.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute(f"PRAGMA synchronous = {'FULL' if synchronous == 'full' else 'NORMAL'}")
    return conn


def initialise(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema; run once, on the writer connection, before anything else."""
    # auto_vacuum only takes effect before the first table exists, so it is set before WAL and the schema.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise SchemaError(f"cannot switch the historian to WAL mode (got {mode!r}); is the file system local?")
    # bound the WAL file after checkpoints so a burst does not leave a huge file behind forever
    conn.execute("PRAGMA journal_size_limit = 67108864")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaError(f"historian schema version {version} is newer than this gateway's ({SCHEMA_VERSION})")
        if version == 0:
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if has_tables:
                raise SchemaError("the file has tables but no historian schema version; refusing to touch it")
            _execute_script(conn, _CREATE_V1)
            version = 1
        created = version == 1 and conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
        while version < SCHEMA_VERSION:
            # a new file is built as v1 and brought up by the same migrations an old file takes
            log.log(logging.DEBUG if created else logging.INFO,
                    "migrating historian schema from version %d to %d", version, version + 1)
            MIGRATIONS[version](conn)
            version += 1
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        log.warning("historian database was created without auto_vacuum=INCREMENTAL; retention cannot shrink the file")
