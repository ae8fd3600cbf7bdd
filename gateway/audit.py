"""Audit log: who changed what, from where, with which result (JSON lines, rotating, retained for years).

The factory program asks for the solution's operation logs to be kept for three years, so every
write to a machine, every operation invocation and every admin action lands here as one JSON
object per line. Records are rare and must survive a power cut, so each one is written with a
single `write()` on an O_APPEND descriptor and fsynced before `record` returns. The gateway and
the CLI (`aas-gateway pki trust ...`) may append to the same file at once: a lock file beside it
(flock) serialises appends and rotation across processes, a mutex across threads.

When the current file reaches `max_file_mb` it is renamed to one carrying the time span of its
records (``audit-20261122T010203Z-20261123T040506Z.jsonl``); rotated files whose span ended more
than `retention_days` ago are deleted, checked at open and at every rotation. Values under keys
that look secret (password, token, key, ...) are written as ``***``: an audit file is read by
more people than the ones allowed to know the secrets.

A record holds whatever a client sent, so every value is made writable and bounded first
(`audit_value`): a lone surrogate is written as the text ``\\ud800`` (the UTF-8 file stays valid),
an integer too long to print as its digit count, and strings, lists, objects and nesting are cut
to a bounded excerpt that says how much was left out. A 10 MB bad value costs a record of a few KB,
and no input can make the write fail and the attempt go unrecorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from connectors.config_base import StrictModel


class AuditConfig(StrictModel):
    path: Path = Field(Path("data/audit/audit.jsonl"), description="current audit file; rotated files sit beside it "
                       "(not set: audit/audit.jsonl beside the historian)")
    retention_days: float = Field(1096.0, gt=0, description="rotated files older than this are deleted (3 years)")
    max_file_mb: float = Field(10.0, gt=0, description="rotate when the current file reaches this size")
    max_file_days: float = Field(30.0, gt=0, description="rotate when the current file's first record is this old, "
                                 "so retention can act on quiet logs too")


def cli_actor() -> str:
    """Who runs an admin command, as the audit log names them: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers with a random uid)
        return "cli:unknown"


REDACTED = "***"
_STAMP = "%Y%m%dT%H%M%SZ"
# a key is secret if its normalised name contains one of these, or ends in "key" (api_key, privateKey, key)
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "authorization", "credential", "privatekey")
# secrets inside free text: "password=abc", "token: abc", "Authorization: Bearer abc"
_SECRET_TEXT = re.compile(
    r"(?i)\b((?:\w*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|authorization))\s*[=:]\s*)"
    r"(?:bearer\s+|basic\s+)?[^\s,;&]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


MAX_CHARS = 1000  # of one string in a record
MAX_ITEMS = 50  # of one list or object
MAX_DEPTH = 8
MAX_TOTAL = 8000  # characters of all strings of one value together
_MAX_INT_BITS = 332  # about 100 decimal digits
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _text(s: str, budget: list[int], secrets: bool = True) -> str:
    """`s` escaped, with secrets redacted (cut before, so a 10 MB string costs no 10 MB regex scan), cut."""
    limit = max(0, min(MAX_CHARS, budget[0]))
    head = s[: limit + 200]  # a margin so that a secret across the cut is still recognised
    if secrets:
        head = redact_text(head)
    out = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", head[:limit])
    if len(s) > limit:
        out += f"...(+{len(s) - limit} chars)"
    budget[0] -= len(out)
    return out


def audit_value(value: Any, redact: bool = True, _depth: int = 0, _budget: list[int] | None = None) -> Any:
    """`value` as a record can always hold it: redacted, escaped and bounded (see the module doc)."""
    budget = _budget if _budget is not None else [MAX_TOTAL]
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):  # str() of more than 4300 digits raises
        bits = value.bit_length()
        return value if bits <= _MAX_INT_BITS else f"(an integer of about {int(bits * 0.30103) + 1} digits)"
    if isinstance(value, str):
        return _text(value, budget, secrets=redact)
    if _depth >= MAX_DEPTH:
        return "(nested too deeply)"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS or budget[0] <= 0:
                out["..."] = f"(+{len(value) - i} entries)"
                break
            key = _text(k if isinstance(k, str) else str(k), budget, secrets=False)
            out[key] = REDACTED if redact and isinstance(k, str) and is_secret_key(k) and v is not None else \
                audit_value(v, redact, _depth + 1, budget)
        return out
    if isinstance(value, list | tuple):
        items = [audit_value(v, redact, _depth + 1, budget) for v in value[:MAX_ITEMS] if budget[0] > 0]
        if len(items) < len(value):
            items.append(f"...(+{len(value) - len(items)} items)")
        return items
    return _text(str(value), budget, secrets=redact)


def body_excerpt(raw: bytes | None, limit: int = 2048) -> str | None:
    """The start of a request body as text for a record (undecodable bytes escaped, the rest counted)."""
    if raw is None:
        return None
    text = raw[:limit].decode("utf-8", "backslashreplace")
    return text if len(raw) <= limit else f"{text}...(+{len(raw) - limit} bytes)"


def is_secret_key(key: str) -> bool:
    k = re.sub(r"[^a-z0-9]", "", key.lower())
    return k.endswith("key") or any(w in k for w in _SECRET_WORDS)


def redact_text(text: str) -> str:
    text = _SECRET_TEXT.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


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


class AuditLog:
    """Appends audit records to `cfg.path`; safe to share between threads and with other processes."""

    def __init__(self, cfg: AuditConfig) -> None:
        self.cfg = cfg
        self.path = Path(cfg.path)
        self._max_bytes = int(cfg.max_file_mb * 1024 * 1024)
        self._mutex = threading.Lock()
        self._make_dir(self.path.parent)
        # the lock file is never renamed, so every process locks the same inode across rotations
        self._lock_fd: int | None = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with self._locked():
            self._delete_expired()

    def record(self, *, actor: str, source: str, action: str, target: str, result: str,
               old: Any = None, new: Any = None, detail: str | None = None) -> None:
        """Append one record, durably (returns after fsync). Secret-looking values are redacted."""
        # who, where and what are names the gateway made (escaped and bounded); values and texts may hold
        # secrets a client sent (also redacted)
        rec = {"ts": "", **{k: audit_value(v, redact=False) for k, v in (
            ("actor", actor), ("source", source), ("action", action), ("target", target))},
            **{k: audit_value(v) for k, v in (("old", old), ("new", new), ("result", result), ("detail", detail))}}
        with self._locked():
            rec["ts"] = utc_now_iso()  # taken under the lock, so the file is in time order across processes
            # backslashreplace: audit_value leaves nothing unencodable, and a record must never fail for it
            line = (json.dumps(rec, ensure_ascii=False, default=str, separators=(",", ":")) + "\n").encode(
                "utf-8", "backslashreplace")
            fd = self._open_current()
            try:
                size = os.fstat(fd).st_size
                if size and (size + len(line) > self._max_bytes or self._too_old()):
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open_current()
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                if fd >= 0:
                    os.close(fd)

    def close(self) -> None:
        with self._mutex:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # --- internals -----------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @staticmethod
    def _make_dir(d: Path) -> None:
        # only directories we create get 0700: the parent may be a shared one such as /var/log
        missing = []
        p = d
        while not p.exists():
            missing.append(p)
            p = p.parent
        for p in reversed(missing):
            with contextlib.suppress(FileExistsError):
                p.mkdir(mode=0o700)
            os.chmod(p, 0o700)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            if self._lock_fd is None:  # used after close(): reopen rather than lose a record
                self._make_dir(self.path.parent)
                self._lock_fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open_current(self) -> int:
        # opened per record under the lock: another process may have rotated the file since the last one
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return fd

    def _too_old(self) -> bool:
        """The current file's first record is older than max_file_days (a quiet log rotates by age)."""
        with open(self.path, "rb") as f, contextlib.suppress(ValueError, KeyError, TypeError):
            first = parse_ts(json.loads(f.readline())["ts"])
            return datetime.now(UTC) - first > timedelta(days=self.cfg.max_file_days)
        return False

    def _rotate(self) -> None:
        first, last = _span(self.path)
        name = _rotated_name(self.path.stem, self.path.suffix, first, last)
        target = self.path.with_name(name)
        n = 1
        while target.exists():
            target = self.path.with_name(f"{name[: -len(self.path.suffix) or None]}-{n}{self.path.suffix}")
            n += 1
        os.rename(self.path, target)
        _fsync_dir(self.path.parent)
        self._delete_expired()

    def _delete_expired(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.cfg.retention_days)
        for r in rotated_files(self.path):
            if r.last < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    r.path.unlink()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _span(path: Path) -> tuple[datetime, datetime]:
    """Times of the first and last record of an audit file (file times where a line is unreadable)."""
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


def read_records(current: Path, start: datetime | None = None, end: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Records with start <= ts < end from the rotated files and the current one, in time order.

    Lines that are not JSON (a torn write from a crash on a filesystem without atomic appends)
    are skipped; an audit export must not stop at one bad line.
    """
    files = [r.path for r in rotated_files(current)
             if (start is None or r.last >= start) and (end is None or r.first < end)]
    if current.exists():
        files.append(current)
    for p in files:
        try:
            f = open(p, encoding="utf-8", errors="replace")
        except FileNotFoundError:  # deleted by retention meanwhile
            continue
        with f:
            for line in f:
                try:
                    rec = json.loads(line)
                    ts = parse_ts(rec["ts"])
                except (ValueError, KeyError, TypeError):
                    continue
                if (start is None or ts >= start) and (end is None or ts < end):
                    yield rec
