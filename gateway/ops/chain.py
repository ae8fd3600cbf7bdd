"""Hash chain over JSON-lines records: sealing a record, and verifying a sequence of files.

Each record carries `seq` (1, 2, 3 ... across every file of the log), `prev` (the hash of the
record before it) and `hash`: SHA-256 over the record's canonical encoding, i.e. the JSON of every
field except `hash`, keys sorted, no whitespace, non-ASCII escaped (``ensure_ascii``), UTF-8. The
writer hashes the record as it parses back from its own line, so a verifier that parses the line
computes the same bytes whatever JSON library wrote it.

Records written before the chain existed (an audit log of v0.1.0) are a *legacy prefix*: they have
no `hash`. They are folded into the chain's start: the first chained record's `prev` is
``fold(fold(GENESIS, line1), line2) ...`` over the legacy lines (fold = SHA-256 of the previous value
and the line's bytes), so editing a legacy record after the chain began is detected too (which one
cannot be said: legacy lines carry no hash of their own).

A torn line (a crash mid-write, no newline) is ended with a newline by the next writer, which says
so in its record (`torn`: the fragment's length): verify reports it as a note, not as tampering.

What verify can and cannot prove is in README.md (Tamper-evident logs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = ("seq", "prev", "hash")


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: every field but `hash`, sorted, compact, ASCII-escaped."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode("ascii")


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def fold(head: str, line: bytes) -> str:
    """The chain value after a legacy (unchained) line."""
    return hashlib.sha256(bytes.fromhex(head) + line.rstrip(b"\r\n")).hexdigest()


@dataclass(frozen=True)
class Head:
    """Where the chain stands: the seq and hash of the last record (seq 0: nothing chained yet)."""

    seq: int
    hash: str


def seal(record: dict[str, Any], head: Head, *, torn: int | None = None) -> bytes:
    """`record` as one line (with newline) carrying seq, prev and hash after `head`.

    The record's own keys keep their order; the chain fields are appended. The hash is computed on
    the record as parsed back from the JSON text, so what a verifier parses is what was hashed.
    """
    rec = {k: v for k, v in record.items() if k not in CHAIN_FIELDS and k != "torn"}
    if torn is not None:
        rec["torn"] = torn
    rec["seq"] = head.seq + 1
    rec["prev"] = head.hash
    text = json.dumps(rec, ensure_ascii=False, default=str, separators=(",", ":"))
    parsed = json.loads(text)
    parsed_hash = record_hash(parsed)
    return (text[:-1] + f',"hash":"{parsed_hash}"}}\n').encode("utf-8", "backslashreplace")


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """A line as a record, or None if it is no JSON object."""
    try:
        rec = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


def is_chained(rec: dict[str, Any]) -> bool:
    return isinstance(rec.get("hash"), str) and isinstance(rec.get("seq"), int) and isinstance(rec.get("prev"), str)


def last_chained(path: Path, block: int = 65536) -> dict[str, Any] | None:
    """The last chained record of a file (reading backwards from its end), or None."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    with f:
        end = f.seek(0, 2)
        pos = end
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
            lines = tail.split(b"\n")
            # the first piece may be cut unless we are at the start of the file
            candidates = lines if pos == 0 else lines[1:]
            for raw in reversed(candidates):
                if raw.strip():
                    rec = parse_line(raw)
                    if rec is not None and is_chained(rec):
                        return rec
            tail = lines[0] if pos > 0 else b""
    return None


def ends_torn(path: Path) -> int:
    """Length of an unterminated last line (a torn write), 0 if the file ends with a newline or is empty."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, 2)
            if end == 0:
                return 0
            f.seek(max(0, end - 65536))
            data = f.read()
    except FileNotFoundError:
        return 0
    if data.endswith(b"\n"):
        return 0
    cut = data.rfind(b"\n")
    return len(data) - cut - 1


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing verify found: where, what kind, and what it means."""

    file: str
    line: int
    kind: str  # edited | deleted | reordered | inserted | unreadable | unchained | legacy | anchor | checkpoint | note
    message: str
    problem: bool = True  # False for notes (a torn line the writer repaired, a legacy prefix)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class Start:
    """Where verification starts: the genesis, or a signed retention checkpoint."""

    head: Head = field(default_factory=lambda: Head(0, GENESIS))
    chained: bool = False  # the pruned part already held chained records (no legacy lines may follow)


@dataclass
class VerifyResult:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    legacy: int = 0
    files: int = 0
    head: Head = field(default_factory=lambda: Head(0, GENESIS))
    hashes: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # seq -> (hash, file, line)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def verify_files(files: Iterable[Path], start: Start | None = None) -> VerifyResult:
    """Walk every line of `files` (oldest first) and report what breaks the chain, naming file and line."""
    start = start or Start()
    res = VerifyResult(head=start.head)
    h = start.head.hash
    expected = start.head.seq + 1
    in_legacy = not start.chained and start.head.seq == 0
    legacy_first: tuple[str, int] | None = None
    unreadable: list[tuple[Finding, int]] = []  # held back: the next record may say it repaired a torn line here
    for path in files:
        res.files += 1
        name = path.name
        for lineno, raw in _lines(path):
            if not raw.strip():
                unreadable.append((Finding(name, lineno, "unreadable", "empty line"), -1))
                continue
            rec = parse_line(raw)
            if rec is None:
                size = len(raw.rstrip(b"\r\n"))
                unreadable.append((Finding(name, lineno, "unreadable",
                                           f"not a JSON record ({size} bytes): a torn write or an edit"), size))
                continue
            if not is_chained(rec):
                if in_legacy:
                    h = fold(h, raw)
                    res.legacy += 1
                    legacy_first = legacy_first or (name, lineno)
                else:
                    res.findings.append(Finding(name, lineno, "unchained",
                                                "a record without seq/prev/hash after the chain began: inserted, or "
                                                "written by an older gateway"))
                continue
            res.records += 1
            if in_legacy and res.legacy:
                res.findings.append(Finding(legacy_first[0] if legacy_first else name,
                                            legacy_first[1] if legacy_first else 0, "legacy",
                                            f"{res.legacy} record(s) written before the hash chain (v0.1.0) are "
                                            "covered as a whole by the chain's first record", problem=False))
            in_legacy = False
            torn = rec.get("torn")
            if unreadable:
                last, size = unreadable[-1]
                if isinstance(torn, int) and len(unreadable) == 1 and size == torn:
                    res.findings.append(Finding(last.file, last.line, "note", f"a torn line of {torn} bytes (a crash "
                                                "mid-write), ended by the next writer, which recorded it",
                                                problem=False))
                else:
                    res.findings.extend(f for f, _ in unreadable)
                unreadable = []
            seq = rec["seq"]
            actual = record_hash(rec)
            if actual != rec["hash"]:
                res.findings.append(Finding(name, lineno, "edited", f"record seq {seq} does not match its hash: "
                                            "its content was changed"))
            if seq > expected:
                n = seq - expected
                res.findings.append(Finding(name, lineno, "deleted", f"seq jumps from {expected - 1} to {seq}: "
                                            f"{n} record(s) missing before this line (deleted, or moved)"))
            elif seq < expected:
                kind = "inserted" if seq in res.hashes else "reordered"
                res.findings.append(Finding(name, lineno, kind, f"seq {seq} after seq {expected - 1}: "
                                            + ("a copy of an earlier record, or an inserted one" if kind == "inserted"
                                               else "records out of order (reordered or inserted)")))
            elif rec["prev"] != h:
                res.findings.append(Finding(name, lineno, "inserted", f"record seq {seq} does not follow the one "
                                            "before it (prev hash differs): a record was replaced, inserted or the "
                                            "files were mixed"))
            if seq not in res.hashes:
                res.hashes[seq] = (rec["hash"], name, lineno)
            h = rec["hash"]  # the claimed hash: one edit is reported once, at its own line
            expected = seq + 1
            res.head = Head(seq, h)
    res.findings.extend(f for f, _ in unreadable)
    if in_legacy and res.legacy and res.records == 0:
        res.findings.append(Finding(legacy_first[0] if legacy_first else "", legacy_first[1] if legacy_first else 0,
                                    "legacy", f"{res.legacy} record(s) written before the hash chain (v0.1.0); the "
                                    "chain starts with the next record", problem=False))
        res.head = Head(start.head.seq, h)
    return res


def check_anchors(res: VerifyResult, anchors: Iterable[tuple[str, int, str]], pruned_through: int,
                  log_name: str) -> list[Finding]:
    """Compare the chain with heads published elsewhere (the historian's daily anchors).

    `anchors` are (when, seq, hash). A head whose record is missing or different means the log was
    truncated or rewritten as a whole, which the chain alone cannot show.
    """
    out = []
    for when, seq, digest in anchors:
        if seq <= pruned_through:
            continue  # pruned by retention; the signed checkpoint vouches for it
        got = res.hashes.get(seq)
        if got is None:
            out.append(Finding(log_name, 0, "anchor", f"the anchor of {when} names seq {seq}, which is not in the "
                               f"log (it ends at seq {res.head.seq}): records were deleted from the end, or the "
                               "log was replaced"))
        elif got[0] != digest:
            out.append(Finding(got[1], got[2], "anchor", f"record seq {seq} differs from the anchor of {when}: "
                               "the log was rewritten"))
    return out
