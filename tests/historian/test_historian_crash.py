"""What the historian reported committed survives SIGKILL of the writing process."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.historian import Historian
from tests.historian.conftest import make_settings
from tests.historian.stored import read_since

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import asyncio, sys
from pathlib import Path
from connectors.sample import Sample, now_ns
from gateway.config import HistorianSettings
from gateway.historian import Historian

async def main():
    settings = HistorianSettings(path=Path(sys.argv[1]), synchronous="full", commit_interval_ms=5)
    async with Historian(settings) as h:
        await h.register_series("a/s/p", "xs:int", None)
        n = 0
        while True:
            t = now_ns()
            await h.append([Sample("a/s/p", n + i, t + i, None, t + i) for i in range(300)])
            n += 300
            if n % 900 == 0:  # some appends are still in flight when the kill comes
                await h.flush()
                print(n, flush=True)

asyncio.run(main())
"""


def write_and_kill(path: Path, flushes: int = 30) -> list[int]:
    """Run the writer until it has reported `flushes` commits, SIGKILL it; every count it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        printed: list[int] = []
        deadline = time.monotonic() + 60
        while len(printed) < flushes and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(int(line))
        assert len(printed) >= flushes, proc.stderr.read() if proc.stderr else ""
        time.sleep(random.uniform(0, 0.05))  # not synchronisation: lets the kill land anywhere, mid-commit too
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        printed += [int(x) for x in out.split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return printed


@pytest.mark.slow
async def test_committed_samples_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    printed = write_and_kill(path)

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    async with Historian(make_settings(path)) as h:
        n = await h.count("a/s/p")
        assert n >= printed[-1]
        # nothing missing in the middle: the values are exactly 0 .. n-1 in insertion order
        values = [s.value for s in await read_since(h, 0, n + 1)]
        assert values == list(range(n))
