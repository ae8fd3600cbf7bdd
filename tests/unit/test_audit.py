"""The audit log on a real filesystem: format, redaction, rotation, retention, concurrent writers, export."""

from __future__ import annotations

import csv
import io
import json
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditConfig, AuditLog, read_records, rotated_files
from gateway.ops.checkpoint import LogSigner, read_checkpoint


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def all_records(current: Path) -> list[dict[str, Any]]:
    return list(read_records(current))


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ")


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_rotated(current: Path, records: list[tuple[datetime, str]]) -> Path:
    """A rotated file as an earlier rotation would have left it (records with given times)."""
    first, last = records[0][0], records[-1][0] + timedelta(seconds=1)
    p = current.with_name(f"{current.stem}-{stamp(first)}-{stamp(last)}{current.suffix}")
    p.write_text("".join(json.dumps({"ts": iso(t), "actor": "a", "source": "cli", "action": "write", "target": tgt,
                                     "old": None, "new": None, "result": "ok", "detail": None}) + "\n"
                         for t, tgt in records))
    return p


def test_record_format_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit" / "audit.jsonl"
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="apikey:k1/line-mes", source="10.0.0.7", action="write", target="urn:sm#Feed.Override",
               result="ok", old=100.0, new=42.5)
    log.record(actor="cli", source="cli", action="pki.trust", target="CN=plc1", result="error: not found",
               detail="no such certificate")
    log.close()
    recs = lines(path)
    assert list(recs[0]) == ["ts", "actor", "source", "action", "target", "old", "new", "result", "detail",
                             "seq", "prev", "hash"]  # the hash chain's fields (gateway/ops/chain.py)
    assert recs[1]["seq"] == 2 and recs[1]["prev"] == recs[0]["hash"]
    assert recs[0]["old"] == 100.0 and recs[0]["new"] == 42.5 and recs[0]["detail"] is None
    assert recs[1]["result"] == "error: not found" and recs[1]["detail"] == "no such certificate"
    ts = datetime.fromisoformat(recs[0]["ts"].replace("Z", "+00:00"))
    assert recs[0]["ts"].endswith("Z") and len(recs[0]["ts"]) == len("2026-01-01T00:00:00.000Z")
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700  # created by us as well


def test_an_existing_parent_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    AuditLog(AuditConfig(path=tmp_path / "audit.jsonl")).close()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_secrets_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="admin", source="cli", action="config.change", target="assets[0].source", result="ok",
               old={"user": {"username": "plc", "password": "hunter2"}, "endpoint": "opc.tcp://x:4840/"},
               new={"user": {"username": "plc", "password": "s3cret!"}, "api_key": "agw_abc_def",
                    "private_key": "-----BEGIN", "Authorization": "Bearer eyJhbGciOi", "tokens": ["t1"],
                    "clientSecret": "x", "key_id": "k1"},
               detail="login with password=hunter2 and token: eyJabc, header Authorization: Bearer eyJhbGciOiJSUzI1")
    log.close()
    text = path.read_text()
    for secret in ("hunter2", "s3cret!", "agw_abc_def", "BEGIN", "eyJ", "t1\""):
        assert secret not in text, secret
    rec = lines(path)[0]
    assert rec["old"]["user"] == {"username": "plc", "password": "***"}
    assert rec["old"]["endpoint"] == "opc.tcp://x:4840/"
    assert rec["new"]["api_key"] == rec["new"]["private_key"] == rec["new"]["Authorization"] == "***"
    assert rec["new"]["tokens"] == rec["new"]["clientSecret"] == "***"
    assert rec["new"]["key_id"] == "k1"  # an id names a key, it is not one
    assert "password=***" in rec["detail"] and "token: ***" in rec["detail"]


def test_rotation_keeps_every_record_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(AuditConfig(path=path, max_file_mb=0.01))  # ~10 kB
    for i in range(200):
        log.record(actor="op", source="cli", action="write", target=f"t{i}", result="ok", new="x" * 200)
    log.close()
    rotated = rotated_files(path)
    assert len(rotated) >= 3
    for r in rotated:
        assert r.path.stat().st_size <= 10 * 1024 * 1.05
        assert stat.S_IMODE(r.path.stat().st_mode) == 0o600
        recs = lines(r.path)
        first = datetime.fromisoformat(recs[0]["ts"].replace("Z", "+00:00"))
        last = datetime.fromisoformat(recs[-1]["ts"].replace("Z", "+00:00"))
        assert r.first <= first and last <= r.last  # the name's span covers its records
    assert [r["target"] for r in all_records(path)] == [f"t{i}" for i in range(200)]


def test_retention_deletes_expired_rotated_files_at_open_and_on_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    now = datetime.now(UTC)
    old = write_rotated(path, [(now - timedelta(days=40), "old")])
    recent = write_rotated(path, [(now - timedelta(days=10), "recent")])
    AuditLog(AuditConfig(path=path, retention_days=30)).close()
    assert old.exists()  # without the gateway's log-signing key nothing is pruned (the chain needs a checkpoint)
    signer = LogSigner(tmp_path / "pki" / "log-signing")
    log = AuditLog(AuditConfig(path=path, retention_days=30, max_file_mb=0.001), signer)
    assert not old.exists() and recent.exists()
    cp = read_checkpoint(path)
    assert cp is not None and cp.pruned_files == [old.name] and cp.pruned_records == 1 and cp.seq == 0
    # a file that expires while the log is open goes at the next rotation
    older = write_rotated(path, [(now - timedelta(days=35), "older")])
    for i in range(20):
        log.record(actor="op", source="cli", action="write", target=f"t{i}", result="ok", new="x" * 100)
    log.close()
    assert not older.exists() and recent.exists() and len(rotated_files(path)) >= 2
    cp = read_checkpoint(path)
    assert cp is not None and cp.pruned_files == [old.name, older.name] and cp.previous is not None


def test_a_quiet_log_rotates_by_age_so_retention_reaches_it(tmp_path: Path) -> None:
    """Few writes never fill max_file_mb: the current file rotates once its first record is too old."""
    path = tmp_path / "audit.jsonl"
    now = datetime.now(UTC)
    # a current file begun 50 days ago (as a gateway that writes a record a month leaves it)
    path.write_text(write_rotated(path, [(now - timedelta(days=50), "first")]).read_text())
    for p in rotated_files(path):
        p.path.unlink()
    log = AuditLog(AuditConfig(path=path, retention_days=1096, max_file_days=30))
    log.record(actor="op", source="cli", action="write", target="second", result="ok")
    log.record(actor="op", source="cli", action="write", target="third", result="ok")
    log.close()
    [rotated] = rotated_files(path)
    assert [json.loads(x)["target"] for x in rotated.path.read_text().splitlines()] == ["first"]
    assert [json.loads(x)["target"] for x in path.read_text().splitlines()] == ["second", "third"]
    assert [r["target"] for r in read_records(path)] == ["first", "second", "third"]


def test_export_window_spans_rotated_and_current_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    write_rotated(path, [(t0, "a"), (t0 + timedelta(hours=1), "b")])
    write_rotated(path, [(t0 + timedelta(days=1), "c"), (t0 + timedelta(days=1, hours=2), "d")])
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="op", source="cli", action="write", target="now", result="ok")
    log.close()
    assert [r["target"] for r in all_records(path)] == ["a", "b", "c", "d", "now"]
    window = read_records(path, t0 + timedelta(minutes=30), t0 + timedelta(days=1, hours=1))
    assert [r["target"] for r in window] == ["b", "c"]
    since = read_records(path, datetime.now(UTC) - timedelta(minutes=5))
    assert [r["target"] for r in since] == ["now"]


def test_a_torn_line_does_not_stop_an_export(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(AuditConfig(path=path))
    log.record(actor="op", source="cli", action="write", target="a", result="ok")
    with open(path, "a") as f:
        f.write('{"ts": "2026-01-01T00:')  # a crash mid-line on a filesystem without atomic appends
        f.write("\n")
    log.record(actor="op", source="cli", action="write", target="b", result="ok")
    log.close()
    assert [r["target"] for r in all_records(path)] == ["a", "b"]


WRITER = """
import sys
from gateway.audit import AuditConfig, AuditLog
log = AuditLog(AuditConfig(path=sys.argv[1], max_file_mb=0.05))
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    log.record(actor=sys.argv[2], source="cli", action="write", target=str(i), result="ok", new="y" * 3000)
log.close()
"""


@pytest.mark.slow
def test_two_processes_and_threads_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    n = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for name in ("p1", "p2")]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    log = AuditLog(AuditConfig(path=path, max_file_mb=0.05))

    def thread_writer(name: str) -> None:
        for i in range(n):
            log.record(actor=name, source="cli", action="write", target=str(i), result="ok", new="z" * 3000)

    threads = [threading.Thread(target=thread_writer, args=(f"t{k}",)) for k in range(2)]
    for p in procs:  # start everybody at once
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    log.close()

    files = [r.path for r in rotated_files(path)] + [path]
    assert len(files) > 3  # rotation happened while all four wrote
    seen: dict[str, list[int]] = {}
    for f in files:
        raw = f.read_bytes()
        assert raw.endswith(b"\n")
        for line in raw.splitlines():
            rec = json.loads(line)  # a torn or interleaved line would not parse
            seen.setdefault(rec["actor"], []).append(int(rec["target"]))
    assert seen == {name: list(range(n)) for name in ("p1", "p2", "t0", "t1")}
    stamps = [r["ts"] for r in read_records(path)]
    assert stamps == sorted(stamps)


@pytest.mark.slow
def test_cli_export(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    path.parent.mkdir()
    write_rotated(path, [(t0, "a"), (t0 + timedelta(hours=1), "b"), (t0 + timedelta(hours=2), "c")])
    AuditLog(AuditConfig(path=path)).close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway.cli", "audit", *args], capture_output=True, text=True,
                              cwd=tmp_path)

    r = run("--audit-path", str(path), "export", "--from", "2026-03-01T08:30:00Z", "--to", "2026-03-01T10:00:00Z")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["target"] for x in r.stdout.splitlines()] == ["b"]
    assert "1 record(s)" in r.stderr

    # -c: the audit path comes from the config (here: beside the historian, audit.path not set)
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"historian:\n  path: {tmp_path / 'historian.sqlite'}\n"
                   "assets:\n- id_short: M\n  id: urn:m\n  global_asset_id: urn:m:a\n"
                   "  source: {endpoint: 'opc.tcp://127.0.0.1:4840', security: {policy: None, mode: None}}\n"
                   "  points: [{node: 'ns=2;s=X', path: X, type: xs:double}]\n")
    out = tmp_path / "export.csv"
    r = run("-c", str(cfg), "export", "--from", "2026-03-01", "--format", "csv", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["target"] for row in rows] == ["a", "b", "c"] and rows[0]["actor"] == "a"

    assert run("--audit-path", str(path), "export", "--from", "yesterday").returncode == 2


@pytest.mark.slow
def test_gateway_and_cli_find_the_same_audit_file_from_any_cwd(tmp_path: Path) -> None:
    """Relative paths are relative to the config file (like the historian's), never to the cwd."""
    from gateway.config import load_config

    site = tmp_path / "site"
    site.mkdir()
    body = ("historian: {path: data/h.sqlite}\n"
            "assets:\n- id_short: M\n  id: urn:m\n  global_asset_id: urn:m:a\n"
            "  source: {endpoint: 'opc.tcp://127.0.0.1:4840', security: {policy: None, mode: None}}\n"
            "  points: [{node: 'ns=2;s=X', path: X, type: xs:double}]\n")
    (site / "beside.yaml").write_text(body)
    (site / "own.yaml").write_text(body + "audit: {path: logs/audit.jsonl}\n")
    assert load_config(site / "beside.yaml").audit.path == site / "data" / "audit" / "audit.jsonl"
    assert load_config(site / "own.yaml").audit.path == site / "logs" / "audit.jsonl"

    AuditLog(AuditConfig(path=site / "logs" / "audit.jsonl")).record(
        actor="cli:test", source="cli", action="pki.trust", target="ABCD", result="ok")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "audit", "-c", str(site / "own.yaml"), "export"],
                       capture_output=True, text=True, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["target"] for x in r.stdout.splitlines()] == ["ABCD"]
    assert not (elsewhere / "logs").exists() and not (elsewhere / "data").exists()
