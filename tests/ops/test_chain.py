"""Tamper evidence: `aas-gateway audit verify` finds every edited, deleted, inserted or reordered record of a
copy of a real audit log (across rotated files), naming file and line, and nothing on the untouched log."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import AuditConfig, AuditLog, rotated_files
from gateway.ops.chain import GENESIS, Head, check_anchors, fold, record_hash, verify_files
from gateway.ops.chainlog import log_files
from gateway.ops.checkpoint import LogSigner, read_checkpoint
from gateway.ops.verify import verify_log


def make_log(d: Path, n: int = 60, max_file_mb: float = 0.004) -> Path:
    """A real audit log of `n` records over several rotated files (about 4 kB each)."""
    path = d / "audit" / "audit.jsonl"
    log = AuditLog(AuditConfig(path=path, max_file_mb=max_file_mb))
    for i in range(n):
        log.record(actor="apikey:k1/mes", source="10.0.0.7", action="write", target=f"urn:sm#P{i}", result="ok",
                   old=i, new=i + 1, detail="x" * 40)
    log.close()
    return path


def verify_cli(current: Path, *extra: str) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "audit", "--audit-path", str(current), "verify",
                        *extra], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def copy_of(src: Path, dst: Path) -> Path:
    shutil.copytree(src.parent, dst)
    return dst / src.name


def lines_of(p: Path) -> list[str]:
    return p.read_text().splitlines(keepends=True)


def problems(current: Path) -> list[str]:
    return [str(f) for f in verify_log("audit", current, None).problems]


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_log(tmp_path_factory.mktemp("chain"))
    assert len(rotated_files(path)) >= 3  # the chain crosses files
    return path


def test_an_untouched_log_verifies_and_the_cli_says_so(audit_log: Path) -> None:
    assert problems(audit_log) == []
    code, out = verify_cli(audit_log)
    assert code == 0 and "60 chained record(s)" in out and "INTACT" in out, out


def test_an_edited_record_is_found_at_its_line(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    victim = rotated_files(cur)[1].path
    lines = lines_of(victim)
    rec = json.loads(lines[2])
    rec["result"] = "denied"  # an edit of the content, the hash left as it was
    lines[2] = json.dumps(rec, separators=(",", ":")) + "\n"
    victim.write_text("".join(lines))
    code, out = verify_cli(cur)
    assert code == 1 and f"{victim.name}:3: edited" in out, out
    assert sum(line.startswith("PROBLEM") for line in out.splitlines()) == 1  # once, where it happened


def test_an_edit_with_a_recomputed_hash_is_found_at_the_next_record(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    lines = lines_of(cur)
    rec = json.loads(lines[0])
    rec["actor"] = "someone-else"
    rec["hash"] = record_hash(rec)  # whoever edits can compute SHA-256 too; the next record still names the old one
    lines[0] = json.dumps(rec, separators=(",", ":")) + "\n"
    cur.write_text("".join(lines))
    found = problems(cur)
    assert len(found) == 1 and found[0].startswith(f"{cur.name}:2: inserted") and "prev hash differs" in found[0]


def test_a_deleted_record_is_found(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    victim = rotated_files(cur)[0].path
    lines = lines_of(victim)
    del lines[3]
    victim.write_text("".join(lines))
    code, out = verify_cli(cur)
    assert code == 1 and f"{victim.name}:4: deleted" in out and "1 record(s) missing" in out, out


def test_a_deleted_file_is_found(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    rotated = rotated_files(cur)
    n = len(lines_of(rotated[1].path))
    rotated[1].path.unlink()
    found = problems(cur)
    assert len(found) == 1 and found[0].startswith(f"{rotated[2].path.name}:1: deleted")
    assert f"{n} record(s) missing" in found[0]


def test_an_inserted_record_is_found(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    lines = lines_of(cur)
    # a forged record that links to the one before it, with a valid hash of its own
    prev = json.loads(lines[1])
    forged = {**prev, "target": "urn:sm#Forged", "seq": prev["seq"] + 1, "prev": prev["hash"]}
    forged["hash"] = record_hash(forged)
    lines.insert(2, json.dumps(forged, separators=(",", ":")) + "\n")
    # and a copy of an earlier record, replayed later on
    lines.insert(5, lines[0])
    # and a legacy-looking line without chain fields
    lines.insert(7, json.dumps({"ts": prev["ts"], "actor": "x", "action": "write"}) + "\n")
    cur.write_text("".join(lines))
    found = problems(cur)
    assert any(f.startswith((f"{cur.name}:4: reordered", f"{cur.name}:4: inserted")) for f in found), found
    assert any(f.startswith(f"{cur.name}:6: inserted") and "copy of an earlier record" in f for f in found), found
    assert any(f.startswith(f"{cur.name}:8: unchained") for f in found), found


def test_reordered_records_are_found(audit_log: Path, tmp_path: Path) -> None:
    cur = copy_of(audit_log, tmp_path / "c")
    victim = rotated_files(cur)[2].path
    lines = lines_of(victim)
    lines[1], lines[2] = lines[2], lines[1]
    victim.write_text("".join(lines))
    code, out = verify_cli(cur)
    assert code == 1 and f"{victim.name}:2: deleted" in out and f"{victim.name}:3: reordered" in out, out


def test_garbage_is_found_and_a_repaired_torn_line_is_only_a_note(tmp_path: Path) -> None:
    path = make_log(tmp_path, n=3, max_file_mb=10)
    with open(path, "a") as f:
        f.write('{"ts": "2026-01-01T00:')  # a crash mid-write: no newline
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="op", source="cli", action="write", target="after", result="ok")
    log.close()
    res = verify_log("audit", path, None)
    assert res.problems == [] and any(f.kind == "note" and "torn line" in f.message for f in res.findings)
    lines = lines_of(path)
    lines.insert(1, "not json at all\n")
    path.write_text("".join(lines))
    assert [f.kind for f in verify_log("audit", path, None).problems] == ["unreadable"]


def test_truncation_at_the_end_needs_the_anchors(audit_log: Path, tmp_path: Path) -> None:
    """Deleting the newest records leaves a valid chain: the anchors published elsewhere catch it."""
    cur = copy_of(audit_log, tmp_path / "c")
    head = verify_files(log_files(cur)).head
    anchors = [("2026-12-01T00:00:00Z", head.seq, head.hash)]
    lines = lines_of(cur)
    cur.write_text("".join(lines[:-2]))
    res = verify_files(log_files(cur))
    assert res.problems == []  # the chain alone cannot tell
    found = check_anchors(res, anchors, 0, cur.name)
    assert len(found) == 1 and f"names seq {head.seq}, which is not in the log" in found[0].message
    # a rewritten log with fresh hashes: the anchor no longer matches its record
    assert check_anchors(res, [("t", 3, "0" * 64)], 0, cur.name)[0].kind == "anchor"


def test_a_v010_log_is_a_legacy_prefix_the_chain_covers(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    legacy = [json.dumps({"ts": f"2026-01-0{i}T00:00:00.000Z", "actor": "cli:root", "source": "cli",
                          "action": "apikey.create", "target": f"k{i}", "old": None, "new": None, "result": "ok",
                          "detail": None}) + "\n" for i in range(1, 4)]
    path.write_text("".join(legacy))
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="op", source="cli", action="write", target="first chained", result="ok")
    log.close()
    rotated = rotated_files(path)
    assert len(rotated) == 1  # the legacy file was a month old: it rotated, the chain goes on in the next file
    first = json.loads(lines_of(path)[0])
    h = GENESIS
    for line in legacy:
        h = fold(h, line.encode())
    assert first["seq"] == 1 and first["prev"] == h  # the chain starts on the legacy records
    res = verify_log("audit", path, None)
    assert res.problems == [] and res.result.legacy == 3
    assert any(f.kind == "legacy" and not f.problem for f in res.findings)
    old = rotated[0].path
    old.write_text(old.read_text().replace('"k2"', '"k9"'))  # an edit of a legacy record after the chain began
    found = [str(f) for f in verify_log("audit", path, None).problems]
    assert len(found) == 1 and found[0].startswith("audit.jsonl:1: inserted")


def test_retention_prunes_behind_a_signed_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    path.parent.mkdir(parents=True)
    now = datetime.now(UTC)
    signer = LogSigner(tmp_path / "pki" / "log-signing")
    # three rotated files, chained, whose records are 50, 40 and 1 days old
    for age in (50, 40, 1):
        log = AuditLog(AuditConfig(path=path, retention_days=1096, max_file_days=10000))
        t = now - timedelta(days=age)
        for i in range(3):
            log._log.append({"ts": (t + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"), "actor": "a",
                             "source": "cli", "action": "write", "target": f"d{age}-{i}", "old": None, "new": None,
                             "result": "ok", "detail": None})
        log._log._rotate()
        log.close()
    files = rotated_files(path)
    assert len(files) == 3
    AuditLog(AuditConfig(path=path, retention_days=30), signer).close()  # prunes the two older files
    assert [r.path.name for r in rotated_files(path)] == [files[2].path.name]
    cp = read_checkpoint(path)
    assert cp is not None and cp.seq == 6 and cp.pruned_records == 6 and cp.chained
    res = verify_log("audit", path, signer.dir)
    assert res.problems == [] and any("signed checkpoint verified" in f.message for f in res.findings)
    # the chain goes on from the checkpoint
    log = AuditLog(AuditConfig(path=path, retention_days=30), signer)
    log.record(actor="op", source="cli", action="write", target="later", result="ok")
    log.close()
    assert verify_log("audit", path, signer.dir).problems == []
    # deleting another file is not retention: the checkpoint does not cover it
    keep = tmp_path / "keep"
    shutil.copytree(path.parent, keep)
    files[2].path.unlink()
    assert [f.kind for f in verify_log("audit", path, signer.dir).problems] == ["deleted"]
    # nor can the checkpoint be moved forward by hand: its signature breaks
    shutil.rmtree(path.parent)
    shutil.copytree(keep, path.parent)
    doc = json.loads((path.parent / "audit.checkpoint.json").read_text())
    doc["seq"] = 9
    (path.parent / "audit.checkpoint.json").write_text(json.dumps(doc))
    kinds = [f.kind for f in verify_log("audit", path, signer.dir).problems]
    assert "checkpoint" in kinds


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    """Threads with their own AuditLog each (as the gateway and a CLI process would): one unbroken chain."""
    path = tmp_path / "audit.jsonl"

    def writer(k: int) -> None:
        log = AuditLog(AuditConfig(path=path, max_file_mb=0.01))
        for i in range(40):
            log.record(actor=f"w{k}", source="cli", action="write", target=f"{k}-{i}", result="ok")
        log.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res = verify_log("audit", path, None)
    assert res.problems == [] and res.result.records == 160 and res.result.head == Head(160, res.result.head.hash)
