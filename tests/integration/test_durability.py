"""No data loss: every value change arrives, and committed data survives SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import status as st
from gateway.app import Gateway
from simulators.scale import ScaleMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a long run, SIGKILL of a gateway process, bad configs in subprocesses

SOAK_S = float(os.environ.get("SOAK_SECONDS", "60"))


async def test_every_change_arrives_over_a_long_run(machines: Any, tmp_path: Path) -> None:
    """A deterministic simulator makes a known number of changes; the historian holds exactly that many."""
    n, rate = 100, 10.0  # 1,000 value changes per second
    sim = await machines(ScaleMachine, name="SCALE01", n=n, rate_hz=rate, seed=42)
    sim.pause()
    paths = {f"Vars.V{i:05d}": "xs:double" for i in range(n)}
    cfg = gateway_config(tmp_path, asset("S", sim, paths, queue_size=100, publishing_interval_ms=100))
    async with Gateway(cfg) as gw:
        pts = gw.sources["S"].health().points
        await wait_for(lambda: all(p.status == st.GOOD for p in pts.values()), message="initial values")
        baseline = dict(sim.changes)
        sim.resume()
        await asyncio.sleep(SOAK_S)  # the run itself, not a synchronisation
        sim.pause()
        expected = {p: sim.changes[p] - baseline[p] + 1 for p in paths}  # +1: the initial value
        assert sum(expected.values()) >= n * rate * SOAK_S * 0.5, "the simulator did not keep up"

        async def counts() -> dict[str, int]:
            await gw.historian.flush()
            return {p: await gw.historian.count(f"S/OperationalData/{p}") for p in paths}

        async def complete() -> bool:
            return sum((await counts()).values()) >= sum(expected.values())

        await wait_for(complete, timeout=60, interval=0.5, message="all changes stored")
        assert await counts() == expected
        for p in list(paths)[:5]:
            rows = await gw.historian.query("S", "OperationalData", p, limit=10**6)
            ts = [r.source_ts for r in rows if r.source_ts is not None]
            assert len(ts) == len(rows) and ts == sorted(ts), "stored with source times, in their order"
            assert all(r.status == st.GOOD for r in rows)
            assert rows[-1].value == sim.values[p]


def _committed(db: Path) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT seq, series, ts, value, status FROM samples ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the gateway has not created its schema yet
        return []


async def test_sigkill_keeps_what_was_committed(machines: Any, tmp_path: Path) -> None:
    sim = await machines(ScaleMachine, name="SCALE01", n=50, rate_hz=10.0, seed=1)
    cfg = gateway_config(tmp_path, asset("S", sim, {f"Vars.V{i:05d}": "xs:double" for i in range(50)}))
    data = cfg.model_dump(mode="json")
    data["historian"]["path"] = str(tmp_path / "h.sqlite")
    cfg_file = tmp_path / "gateway.yaml"
    cfg_file.write_text(yaml.safe_dump(data))
    db = tmp_path / "h.sqlite"

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg_file),
                                                    "--log-level", "WARNING", stderr=asyncio.subprocess.DEVNULL)

    proc = await start()
    try:
        await wait_for(lambda: len(_committed(db)) > 2000, timeout=60, message="rows committed")
        snapshot = _committed(db)
        proc.send_signal(signal.SIGKILL)
        assert await proc.wait() == -signal.SIGKILL
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    after = _committed(db)
    assert after[: len(snapshot)] == snapshot, "every row committed before the kill is intact"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # the gateway restarts on the same database and carries on after the last committed row
    proc = await start()
    try:
        last = after[-1][0]
        await wait_for(lambda: _committed(db)[-1][0] > last + 500, timeout=60, message="new rows after restart")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    final = _committed(db)
    assert final[: len(after)] == after


@pytest.mark.parametrize("args", [["run", "-c", "missing.yaml"], ["check-config", "missing.yaml"]])
def test_bad_config_exits_non_zero(tmp_path: Path, args: list[str]) -> None:
    import subprocess

    r = subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2
    assert "missing.yaml: cannot read" in r.stderr
