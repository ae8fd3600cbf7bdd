"""An append-only JSON-lines log, hash-chained, rotated and pruned: the file side of the audit log and the ledger.

One record per line, appended and fsynced under a lock (a thread mutex plus ``flock`` on a lock
file beside the log that is never renamed, so the gateway and CLI processes can append to the same
log at once). Every record is sealed into the hash chain (`gateway.ops.chain`) against the last
record of the log, which is read back from the file whenever another process may have appended
since (the file's inode or size changed), so the chain holds across processes and restarts.

Rotation renames the current file to ``<stem>-<first>-<last><suffix>`` (UTC times of its records)
when it reaches `max_file_mb` or its first record is `max_file_days` old; the chain continues in the
next file. Retention deletes rotated files whose last record is older than `retention_days`, oldest
first and only as a contiguous prefix, after writing a signed checkpoint (`gateway.ops.checkpoint`)
of the chain's head at the end of what it deletes. Without the signing key (a CLI that does not
know the PKI folder) nothing is pruned; the gateway does it. Files that fail verification are never
pruned: they are evidence.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.ops.chain import GENESIS, Head, Start, ends_torn, last_chained, seal, verify_files
from gateway.ops.checkpoint import Checkpoint, LogSigner, make_dir, read_checkpoint, write_checkpoint

log = logging.getLogger(__name__)

_STAMP = "%Y%m%dT%H%M%SZ"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or offset; a date alone is midnight UTC; naive means UTC)."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class RotatedFile:
    path: Path
    first: datetime
    last: datetime
    n: int = 0  # tie-breaker when several files rotated within the same seconds


def _rotated_name(stem: str, suffix: str, first: datetime, last: datetime) -> str:
    return f"{stem}-{first.strftime(_STAMP)}-{last.strftime(_STAMP)}{suffix}"


def rotated_files(current: Path) -> list[RotatedFile]:
    """The rotated siblings of `current`, oldest first (by the time span in their names)."""
    pattern = re.compile(rf"^{re.escape(current.stem)}-(\d{{8}}T\d{{6}}Z)-(\d{{8}}T\d{{6}}Z)(?:-(\d+))?"
                         rf"{re.escape(current.suffix)}$")
    out: list[RotatedFile] = []
    if not current.parent.is_dir():
        return out
    for p in current.parent.iterdir():
        m = pattern.match(p.name)
        if m:
            first, last = (datetime.strptime(g, _STAMP).replace(tzinfo=UTC) for g in m.groups()[:2])
            out.append(RotatedFile(p, first, last, int(m.group(3) or 0)))
    out.sort(key=lambda r: (r.first, r.last, r.n))
    return out


def log_files(current: Path) -> list[Path]:
    """Every file of a log, oldest first: the rotated ones, then the current one (if it exists)."""
    files = [r.path for r in rotated_files(current)]
    if current.exists():
        files.append(current)
    return files


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def span(path: Path) -> tuple[datetime, datetime]:
    """Times of the first and last record of a log file (file times where a line is unreadable)."""
    st = path.stat()
    first = last = None
    with open(path, "rb") as f:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            first = parse_ts(json.loads(f.readline())["ts"])
        f.seek(max(0, st.st_size - 65536))
        tail = f.read().splitlines()
        for raw in reversed(tail):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                last = parse_ts(json.loads(raw)["ts"])
                break
    fallback = datetime.fromtimestamp(st.st_mtime, UTC)
    first = first or last or fallback
    last = last or fallback
    # names have second resolution: round the end up so the span covers its last record
    last = last.replace(microsecond=0) + (timedelta(seconds=1) if last.microsecond else timedelta())
    return first.replace(microsecond=0), max(last, first.replace(microsecond=0))


def chain_head(current: Path) -> Head:
    """The head of a log's chain as it is on disk (the last chained record, else the legacy fold)."""
    rec = last_chained(current)
    if rec is None:
        for r in reversed(rotated_files(current)):
            rec = last_chained(r.path)
            if rec is not None:
                break
    if rec is not None:
        return Head(int(rec["seq"]), str(rec["hash"]))
    cp = read_checkpoint(current)
    # nothing chained yet: the first record will follow the legacy lines (if any), folded
    return verify_files(log_files(current), cp.start() if cp else Start()).head


@dataclass(frozen=True)
class LogSettings:
    retention_days: float = 1096.0
    max_file_mb: float = 10.0
    max_file_days: float = 30.0


class ChainedLog:
    """Appends hash-chained records to `path`; safe to share between threads and with other processes."""

    def __init__(self, path: Path, settings: LogSettings | None = None, signer: LogSigner | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or LogSettings()
        self.signer = signer
        self._max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        self._mutex = threading.Lock()
        self._cached: tuple[tuple[int, int], Head] | None = None  # (inode, size) of the current file -> head
        self._unsigned_warned = False
        make_dir(self.path.parent)
        # the lock file is never renamed, so every process locks the same inode across rotations
        self._lock_fd: int | None = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with self._locked():
            self._delete_expired()

    def append(self, record: dict[str, Any]) -> Head:
        """Seal and append one record durably (returns after fsync); a missing `ts` is stamped under the lock,
        so the file is in time order across processes. Returns the chain's new head."""
        with self._locked():
            rec = dict(record)
            if not rec.get("ts"):
                rec["ts"] = utc_now_iso()
            fd = self._open_current()
            try:
                st = os.fstat(fd)
                torn = 0
                if st.st_size and os.pread(fd, 1, st.st_size - 1) != b"\n":
                    torn = ends_torn(self.path)  # a crash mid-line: end it, and say so in the chain
                    write_all(fd, b"\n")
                    st = os.fstat(fd)
                head = self._head(st)
                line = seal(rec, head, torn=torn or None)
                if st.st_size and (st.st_size + len(line) > self._max_bytes or self._too_old()):
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open_current()
                write_all(fd, line)
                os.fsync(fd)
                st = os.fstat(fd)
                new = Head(head.seq + 1, json.loads(line)["hash"])
                self._cached = ((st.st_ino, st.st_size), new)
                return new
            finally:
                if fd >= 0:
                    os.close(fd)

    def head(self) -> Head:
        """The chain's head now (for anchors), as any process left it."""
        with self._locked():
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                return chain_head(self.path)
            return self._head(st)

    def close(self) -> None:
        with self._mutex:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # --- internals -----------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            if self._lock_fd is None:  # used after close(): reopen rather than lose a record
                make_dir(self.path.parent)
                self._lock_fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the log's lock (a backup copies the files under it, so no record is half in the copy)."""
        return self._locked()

    def _head(self, st: os.stat_result) -> Head:
        key = (st.st_ino, st.st_size)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        head = chain_head(self.path)
        self._cached = (key, head)
        return head

    def _open_current(self) -> int:
        # opened per record under the lock: another process may have rotated the file since the last one
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return fd

    def _too_old(self) -> bool:
        """The current file's first record is older than max_file_days (a quiet log rotates by age)."""
        with open(self.path, "rb") as f, contextlib.suppress(ValueError, KeyError, TypeError):
            first = parse_ts(json.loads(f.readline())["ts"])
            return datetime.now(UTC) - first > timedelta(days=self.settings.max_file_days)
        return False

    def _rotate(self) -> None:
        first, last = span(self.path)
        name = _rotated_name(self.path.stem, self.path.suffix, first, last)
        target = self.path.with_name(name)
        n = 1
        while target.exists():
            target = self.path.with_name(f"{name[: -len(self.path.suffix) or None]}-{n}{self.path.suffix}")
            n += 1
        os.rename(self.path, target)
        fsync_dir(self.path.parent)
        self._delete_expired()

    def _delete_expired(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        expired: list[RotatedFile] = []
        for r in rotated_files(self.path):
            if r.last >= cutoff:
                break  # only a contiguous oldest prefix: the chain must stay whole after it
            expired.append(r)
        if not expired:
            return
        if self.signer is None:
            if not self._unsigned_warned:
                log.info("%s: %d file(s) past retention are kept until the gateway (which holds the log-signing "
                         "key) prunes them", self.path.name, len(expired))
                self._unsigned_warned = True
            return
        old = read_checkpoint(self.path)
        res = verify_files([r.path for r in expired], old.start() if old else Start())
        if res.problems:
            log.error("%s: %d file(s) past retention fail verification and are kept as evidence (first problem: "
                      "%s); run `aas-gateway audit verify`", self.path.name, len(expired), res.problems[0])
            return
        chained = (old.chained if old else False) or res.records > 0
        _, last_ts = span(expired[-1].path)
        cp = Checkpoint(log=self.path.name, seq=res.head.seq, head=res.head.hash if res.files else GENESIS,
                        chained=chained, pruned_files=[r.path.name for r in expired],
                        pruned_records=res.records + res.legacy, last_ts=last_ts.isoformat().replace("+00:00", "Z"),
                        created=utc_now_iso())
        write_checkpoint(self.path, cp, self.signer)
        for r in expired:
            with contextlib.suppress(FileNotFoundError):
                r.path.unlink()
        fsync_dir(self.path.parent)
        log.info("%s: retention pruned %d file(s) (%d records) up to seq %d; signed checkpoint written",
                 self.path.name, len(expired), cp.pruned_records, cp.seq)
