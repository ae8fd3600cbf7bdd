"""`aas-gateway audit verify`: check the hash chains of the audit log and the operation ledger.

For each log: every file (rotated ones oldest first, then the current one) line by line against the
chain (`gateway.ops.chain.verify_files`), starting from the signed retention checkpoint if retention
pruned files (its Ed25519 signature checked with the public key in the PKI folder), then against the
daily anchors the gateway wrote to the historian (a log truncated at its end, or rewritten as a
whole with fresh hashes, no longer matches the heads published then).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.ops.chain import Finding, Start, VerifyResult, check_anchors, verify_files
from gateway.ops.chainlog import log_files
from gateway.ops.checkpoint import check_checkpoint
from gateway.ops.operation import OPERATION_RATE

ANCHOR_PATHS = {"audit": "Anchors.AuditLog", "ledger": "Anchors.Ledger"}


@dataclass
class LogVerdict:
    name: str  # audit | ledger
    current: Path
    result: VerifyResult
    findings: list[Finding] = field(default_factory=list)
    anchors_checked: int = 0

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    def summary(self) -> str:
        r = self.result
        state = "INTACT" if not self.problems else f"{len(self.problems)} PROBLEM(S)"
        legacy = f" + {r.legacy} legacy record(s) before the chain" if r.legacy else ""
        anchors = f"; {self.anchors_checked} anchor(s) from the historian match" if self.anchors_checked and \
            not any(f.kind == "anchor" for f in self.problems) else ""
        return (f"{self.name} log {self.current}: {r.records} chained record(s){legacy} in {r.files} file(s), "
                f"head seq {r.head.seq}{anchors}: {state}")


def read_anchors(historian: Path, log: str, asset: str | None = None) -> list[tuple[str, int, str]]:
    """(time, seq, hash) of the anchors of `log` stored in the historian (read-only; the gateway may run)."""
    if not historian.exists():
        return []
    uri = f"file:{historian}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        sql = ("SELECT s.ts, s.value FROM samples s JOIN series r ON s.series = r.id "
               "WHERE r.submodel = ? AND r.path = ?" + (" AND r.asset = ?" if asset else "") + " ORDER BY s.seq")
        params: tuple[str, ...] = (OPERATION_RATE, ANCHOR_PATHS[log]) + ((asset,) if asset else ())
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not a historian (yet)
            return []
    finally:
        conn.close()
    out = []
    from connectors.sample import ns_to_iso

    for ts, value in rows:
        if isinstance(value, str) and ":" in value:
            seq, _, digest = value.partition(":")
            if seq.isdigit():
                out.append((ns_to_iso(int(ts)), int(seq), digest))
    return out


def verify_log(name: str, current: Path, key_dir: Path | None,
               anchors: Iterable[tuple[str, int, str]] = ()) -> LogVerdict:
    cp, cp_findings = check_checkpoint(current, key_dir)
    files = log_files(current)
    res = verify_files(files, cp.start() if cp is not None else Start())
    verdict = LogVerdict(name, current, res, [*cp_findings, *res.findings])
    anchors = list(anchors)
    verdict.findings += check_anchors(res, anchors, cp.seq if cp is not None else 0, current.name)
    verdict.anchors_checked = len(anchors)
    if not files and cp is None:
        verdict.findings.append(Finding(current.name, 0, "note", "no such log (nothing recorded yet)", problem=False))
    return verdict
