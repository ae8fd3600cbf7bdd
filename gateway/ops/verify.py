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


def cmd_verify(args: object) -> int:
    """`aas-gateway audit verify`: exit 0 if both chains are intact, 1 if anything was found, 2 on bad usage."""
    import json
    import sys

    from gateway.ops.checkpoint import signing_dir
    from gateway.ops.paths import PathsError, from_config
    from gateway.ops.service import gateway_id_short_of

    config = getattr(args, "config", None)
    key_dir = Path(args.pki_dir) / "log-signing" if getattr(args, "pki_dir", None) else None  # type: ignore[attr-defined]
    logs: list[tuple[str, Path]] = []
    historian: Path | None = None
    asset: str | None = None
    if config:
        try:
            paths = from_config(Path(config))
        except PathsError as e:
            print(f"audit verify: {e}", file=sys.stderr)
            return 2
        logs = [("audit", paths.audit), ("ledger", paths.ledger)]
        historian = paths.historian
        asset = gateway_id_short_of(paths.gateway_name)
        key_dir = key_dir or signing_dir(paths.pki)
    else:
        logs = [("audit", Path(args.audit_path))]  # type: ignore[attr-defined]
        if getattr(args, "ledger_path", None):
            logs.append(("ledger", Path(args.ledger_path)))  # type: ignore[attr-defined]
        if getattr(args, "historian", None):
            historian = Path(args.historian)  # type: ignore[attr-defined]
    verdicts = []
    for name, current in logs:
        anchors = read_anchors(historian, name, asset) if historian is not None and \
            not getattr(args, "no_anchors", False) else []
        verdicts.append(verify_log(name, current, key_dir, anchors))
    if getattr(args, "json", False):
        print(json.dumps([{"log": v.name, "path": str(v.current), "records": v.result.records,
                           "legacy": v.result.legacy, "files": v.result.files, "head_seq": v.result.head.seq,
                           "head": v.result.head.hash, "anchors_checked": v.anchors_checked,
                           "findings": [{"file": f.file, "line": f.line, "kind": f.kind, "message": f.message,
                                         "problem": f.problem} for f in v.findings]} for v in verdicts], indent=1))
    else:
        for v in verdicts:
            for f in v.findings:
                print(("PROBLEM " if f.problem else "note    ") + str(f))
            print(v.summary())
    return 1 if any(v.problems for v in verdicts) else 0
