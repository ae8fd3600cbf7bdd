"""Audit log: who changed what, from where, with which result (JSON lines, rotating, retained for years).

The factory program asks for the solution's operation logs to be kept for three years, so every
write to a machine, every operation invocation and every admin action lands here as one JSON
object per line. Records are rare and must survive a power cut, so each one is written with a
single `write()` on an O_APPEND descriptor and fsynced before `record` returns. The gateway and
the CLI (`aas-gateway pki trust ...`) may append to the same file at once: a lock file beside it
(flock) serialises appends and rotation across processes, a mutex across threads.

When the current file reaches `max_file_mb` it is renamed to one carrying the time span of its
records (``audit-20261122T010203Z-20261123T040506Z.jsonl``); rotated files whose span ended more
than `retention_days` ago are deleted, checked at open and at every rotation. Every record is
hash-chained (`seq`, `prev`, `hash`; the file machinery is `gateway.ops.chainlog`, shared with the
operation ledger): `aas-gateway audit verify` finds any edited, deleted, inserted or reordered
record, and retention prunes only after writing a signed checkpoint, so the chain stays whole (the
gateway holds the signing key; a CLI without it leaves expired files for the gateway). Values under keys
that look secret (password, token, key, ...) are written as ``***``: an audit file is read by
more people than the ones allowed to know the secrets.

A record holds whatever a client sent, so every value is made writable and bounded first
(`audit_value`): a lone surrogate is written as the text ``\\ud800`` (the UTF-8 file stays valid),
an integer too long to print as its digit count, and strings, lists, objects and nesting are cut
to a bounded excerpt that says how much was left out. A 10 MB bad value costs a record of a few KB,
and no input can make the write fail and the attempt go unrecorded.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from connectors.config_base import StrictModel
from gateway.ops.chain import Head
from gateway.ops.chainlog import (  # noqa: F401  (re-exported: the audit log's file names and times)
    ChainedLog,
    LogSettings,
    RotatedFile,
    parse_ts,
    rotated_files,
    utc_now_iso,
)

if TYPE_CHECKING:  # the signing key (cryptography) is loaded by the gateway, not by every config reader
    from gateway.ops.checkpoint import LogSigner


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


class AuditLog:
    """Appends audit records to `cfg.path`; safe to share between threads and with other processes.

    `signer` (the gateway's log-signing key, kept in its PKI folder) lets retention prune expired files
    behind a signed checkpoint; without it expired files are kept for the gateway to prune.
    """

    def __init__(self, cfg: AuditConfig, signer: LogSigner | None = None) -> None:
        self.cfg = cfg
        self.path = Path(cfg.path)
        self._log = ChainedLog(self.path, LogSettings(cfg.retention_days, cfg.max_file_mb, cfg.max_file_days),
                               signer)

    def record(self, *, actor: str, source: str, action: str, target: str, result: str,
               old: Any = None, new: Any = None, detail: str | None = None) -> None:
        """Append one record, durably (returns after fsync). Secret-looking values are redacted."""
        # who, where and what are names the gateway made (escaped and bounded); values and texts may hold
        # secrets a client sent (also redacted). `ts` is taken under the log's lock, so the file is in time order.
        rec = {"ts": "", **{k: audit_value(v, redact=False) for k, v in (
            ("actor", actor), ("source", source), ("action", action), ("target", target))},
            **{k: audit_value(v) for k, v in (("old", old), ("new", new), ("result", result), ("detail", detail))}}
        self._log.append(rec)

    def head(self) -> Head:
        """The chain head (seq and hash of the last record): the daily anchor written to the historian."""
        return self._log.head()

    @property
    def chained_log(self) -> ChainedLog:
        return self._log

    def close(self) -> None:
        self._log.close()


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
