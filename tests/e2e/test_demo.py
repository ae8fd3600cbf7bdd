"""Acceptance: `aas-gateway demo` brings up machines + gateway; data behaves like the machines."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # the demo in its own process


def _series(db: Path, asset: str, path: str) -> list[tuple[int, Any, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT s.ts, s.value, s.status FROM samples s JOIN series r ON r.id = s.series "
            "WHERE r.asset = ? AND r.path = ? ORDER BY s.seq", (asset, path)).fetchall()


def _assets_with_values(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT DISTINCT r.asset FROM samples s JOIN series r ON r.id = s.series "
                                "WHERE s.status = 0 AND s.value IS NOT NULL").fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return set()
    return {r[0] for r in rows}


def _good(rows: list[tuple[int, Any, int]]) -> list[Any]:
    return [v for _, v, status in rows if status == 0]


async def test_demo_runs_and_machines_behave(tmp_path: Path) -> None:
    exe = shutil.which("aas-gateway")
    assert exe, "the console script is installed by the README's command"
    data = tmp_path / "demo-data"
    db = data / "historian.sqlite"
    proc = await asyncio.create_subprocess_exec(exe, "demo", "--data-dir", str(data), "--status-every", "5",
                                                "--port", "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(pump())
    try:
        # acceptance: within 30 s the historian holds values from at least three machines
        machines = {"CNC01", "IMM01", "EM01"}
        await wait_for(lambda: machines <= _assets_with_values(db), timeout=30, interval=0.5,
                       message="values from three machines in the historian")
        assert _assets_with_values(db) - machines <= {"line1_edge"}  # and the gateway's own shell (ledger, anchors)
        # let the machines run long enough to show their dynamics
        await wait_for(lambda: len(_good(_series(db, "IMM01", "Barrel.Zone1.Temperature"))) >= 100, timeout=60,
                       interval=0.5, message="100 barrel temperature samples")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = await asyncio.wait_for(proc.wait(), 30)
        await reader
    text = "".join(output)
    assert code == 0, text
    assert "demo stopped; historian flushed" in text
    assert "Traceback" not in text

    # the simulators were stopped with the demo: their ports no longer answer
    endpoints = re.findall(r"opc\.tcp://127\.0\.0\.1:(\d+)/", text)
    assert len(set(endpoints)) == 3
    for port in set(endpoints):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(port))) != 0

    # counters only increase
    for a, p in [("IMM01", "Counters.Shots"), ("IMM01", "Counters.Scrap"), ("IMM01", "Counters.Good"),
                 ("CNC01", "Program.PartCount"), ("EM01", "Energy.ActiveImport")]:
        values = _good(_series(db, a, p))
        assert values, f"{a} {p} has values"
        assert values == sorted(values), f"{a} {p} never decreases"
    energy = _good(_series(db, "EM01", "Energy.ActiveImport"))
    assert energy[-1] > energy[0], "the energy register counts up"
    # barrel temperatures approach their setpoints (first-order heating)
    for zone in range(1, 5):
        temps = _good(_series(db, "IMM01", f"Barrel.Zone{zone}.Temperature"))
        setpoint = _good(_series(db, "IMM01", f"Barrel.Zone{zone}.Setpoint"))[-1]
        assert abs(temps[-1] - setpoint) < abs(temps[0] - setpoint), f"zone {zone} heads for {setpoint}"
        assert len(set(temps)) > 10, "temperatures change over time"
    coolant = _good(_series(db, "CNC01", "Coolant.Temperature"))
    assert len(set(coolant)) > 3, "CNC values change over time"
    assert {v for _, v, _ in _series(db, "CNC01", "Machine.State")} <= {"Running", "Idle", "Setup", "Alarm", "Off"}
