"""Backup while a real gateway ingests from a secured simulator, then restore: consistent, complete, verified.

The gateway and the simulator are separate processes, as on a server; `aas-gateway backup` is a third.
The historian is copied in small steps (4 pages each) so the copy spans many of the writer's commits.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from gateway.ops.backup import read_manifest
from tests.conftest import wait_for
from tests.ops.procs import (
    free_port,
    max_seq,
    opcua_asset,
    query,
    run_cli,
    start_gateway,
    start_simulators,
    stop,
    write_config,
)

POINTS = {p: "xs:double" for p in ("Spindle.Speed", "Spindle.Load", "Axes.X.Position", "Axes.Y.Position",
                                   "Axes.Z.Position", "Feed.Rate", "Coolant.Temperature", "Tool.Wear")}
ROWS = "SELECT seq, series, ts, value, status, source_ts, recv_ts FROM samples"


def gateway_doc(data: Path, machine: dict[str, object], port: int) -> dict[str, object]:
    return {"gateway": {"name": "bk-gw", "id": "urn:test:gw"},
            "historian": {"path": str(data / "historian.sqlite"), "commit_interval_ms": 50},
            "api": {"port": port},
            "assets": [opcua_asset("CNC01", machine, POINTS, security={"policy": "auto", "mode": "auto",
                                                                        "trust_on_first_use": True})]}


@pytest.mark.slow
async def test_online_backup_under_ingest_and_restore(tmp_path: Path) -> None:
    sim, machines = await start_simulators("--machine", "cnc:0:name=CNC01", "--secure", "--pki",
                                           str(tmp_path / "sim-pki"))
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "gateway.yaml", gateway_doc(data, machines["CNC01"], free_port()))
    db = data / "historian.sqlite"
    gw = None
    try:
        code, _, err = await run_cli("apikey", "-c", str(cfg), "create", "--role", "reader", "--name", "mes")
        assert code == 0, err
        gw = await start_gateway(cfg)
        await wait_for(lambda: max_seq(db) > 800, timeout=90, message="samples flowing")
        before = query(db, "SELECT max(seq) FROM samples")[0][0]  # committed before the backup starts

        seen: list[int] = []

        async def watch_writer() -> None:
            while True:
                seen.append(query(db, "SELECT max(seq) FROM samples")[0][0])
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_writer())
        archive = tmp_path / "backup.tar"
        code, _, err = await run_cli("backup", "-c", str(cfg), "--out", str(archive), "--step-pages", "2")
        watcher.cancel()
        assert code == 0, err
        assert len(set(seen)) >= 3, f"the writer did not commit while the backup ran: {seen}"
        m = read_manifest(archive)
        snap = m.snapshot
        assert snap["steps"] > 10, snap  # copied in many steps, the writer between them
        # the snapshot is one point in time between the start and the end of the backup (the writer may not
        # have committed again after it when the last steps are quick: <=, not <)
        assert before <= snap["max_seq"] <= max(seen), (before, snap, max(seen))
        roles = {f.role for f in m.files}
        assert {"data", "pki", "audit", "ledger", "keys", "config"} <= roles, roles
        assert (archive.stat().st_mode & 0o777) == 0o600
        assert await stop(gw) == 0
        gw = None
        original = {r[0]: r for r in query(db, ROWS + " WHERE seq <= ?", (snap["max_seq"],))}

        # restore into a fresh directory: exactly the snapshot, consistent, nothing missing before its point
        target = tmp_path / "restored"
        code, _, err = await run_cli("restore", str(archive), "--data-dir", str(target))
        assert code == 0, err
        rdb = target / "historian.sqlite"
        assert query(rdb, "PRAGMA integrity_check") == [("ok",)]
        restored = {r[0]: r for r in query(rdb, ROWS)}
        assert max(restored) == snap["max_seq"] and len(restored) == snap["samples"]
        assert restored == original  # every sample committed before the snapshot point, as it was
        assert set(range(1, before + 1)) <= set(restored)
        for rel in ("pki/own/cert.der", "pki/own/private/key.pem", "api-keys.json"):
            assert (target / rel).read_bytes() == (data / rel).read_bytes(), rel
        assert (target / "pki/own/private/key.pem").stat().st_mode & 0o777 == 0o600
        assert list((target / "pki/trusted").iterdir())  # the machine's certificate, trusted on first use
        key_line = json.loads((data / "api-keys.json").read_text())
        assert json.loads((target / "api-keys.json").read_text()) == key_line
        code, out, err = await run_cli("audit", "--audit-path", str(target / "audit/audit.jsonl"), "verify",
                                       "--ledger-path", str(target / "ledger/ledger.jsonl"),
                                       "--pki-dir", str(target / "pki"), "--historian", str(rdb))
        assert code == 0, out + err
        assert "audit log" in out and "INTACT" in out and out.count("INTACT") == 2

        # a running gateway's data is never overwritten
        cfg2 = write_config(tmp_path / "restored.yaml", gateway_doc(target, machines["CNC01"], free_port()))
        gw = await start_gateway(cfg2)
        await wait_for(lambda: query(rdb, "SELECT max(seq) FROM samples")[0][0] > snap["max_seq"], timeout=90,
                       message="the restored gateway ingesting")
        code, _, err = await run_cli("restore", str(archive), "-c", str(cfg2), "--force")
        assert code == 1 and "a gateway is running on" in err, err
        assert await stop(gw) == 0
        gw = None
        # stopped: a target with data needs --force, which moves it aside (nothing is deleted)
        code, _, err = await run_cli("restore", str(archive), "-c", str(cfg2))
        assert code == 1 and "--force" in err
        code, _, err = await run_cli("restore", str(archive), "-c", str(cfg2), "--force")
        assert code == 0, err
        aside = next(target.glob("before-restore-*"))
        assert (aside / "historian.sqlite").exists() and (aside / "pki/own/cert.der").exists()
        assert query(rdb, "SELECT max(seq) FROM samples")[0][0] == snap["max_seq"]
        assert "not restored: config" in err  # an existing config stays unless --with-config

        # a damaged archive is refused before anything is touched
        damaged = tmp_path / "damaged.tar"
        with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
            for member in src.getmembers():
                f = src.extractfile(member)
                payload = f.read() if f is not None else b""
                if member.name == "data/historian.sqlite":
                    payload = payload[:-10] + b"x" * 10
                dst.addfile(member, io.BytesIO(payload))
        fresh = tmp_path / "fresh"
        code, _, err = await run_cli("restore", str(damaged), "--data-dir", str(fresh))
        assert code == 1 and "checksum mismatch" in err
        assert not (fresh / "historian.sqlite").exists()
    finally:
        await stop(gw)
        await stop(sim, sig=2)


def test_snapshot_is_one_instant_while_another_connection_writes(tmp_path: Path) -> None:
    """The copy holds exactly what was committed when it began, though commits land between its steps."""
    import threading

    from gateway.ops.backup import snapshot_historian

    src = tmp_path / "h.sqlite"
    w = sqlite3.connect(src, isolation_level=None, check_same_thread=False)
    w.execute("PRAGMA journal_mode = WAL")
    w.execute("CREATE TABLE samples (seq INTEGER PRIMARY KEY, v BLOB)")
    w.execute("BEGIN")
    w.executemany("INSERT INTO samples (v) VALUES (?)", [(b"x" * 200,) for _ in range(20000)])
    w.execute("COMMIT")
    stop_writing = threading.Event()
    commits = [0]

    def writer() -> None:
        while not stop_writing.is_set():
            w.execute("BEGIN")
            w.executemany("INSERT INTO samples (v) VALUES (?)", [(b"y" * 200,) for _ in range(50)])
            w.execute("COMMIT")
            commits[0] += 1

    steps: list[int] = []
    t = threading.Thread(target=writer)
    t.start()
    try:
        info = snapshot_historian(src, tmp_path / "copy.sqlite", step_pages=8, step_sleep_s=0.002,
                                  on_step=lambda done, total: steps.append(commits[0]))
    finally:
        stop_writing.set()
        t.join()
    assert len(steps) > 50 and steps[-1] > steps[0], "the writer committed between the steps"
    copy = sqlite3.connect(tmp_path / "copy.sqlite")
    assert copy.execute("SELECT count(*), max(seq) FROM samples").fetchone() == (info["samples"], info["max_seq"])
    assert copy.execute("SELECT count(*) FROM samples WHERE seq > ?", (info["max_seq"],)).fetchone() == (0,)
    assert w.execute("SELECT max(seq) FROM samples").fetchone()[0] > info["max_seq"]
