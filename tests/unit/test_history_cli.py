"""`aas-gateway history` against a real historian file."""

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sample import Sample, now_ns
from gateway.config import HistorianSettings
from gateway.historian import Historian

pytestmark = pytest.mark.slow  # the CLI in subprocesses


async def test_history_lists_points_and_shows_samples_and_buckets(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    t0 = now_ns() - 30 * 10**9
    async with Historian(HistorianSettings(path=db)) as h:
        await h.register_series("IMM01/OperationalData/Counters.Scrap", "xs:unsignedInt", None)
        await h.append([Sample("IMM01/OperationalData/Counters.Scrap", i, t0 + i * 10**9, None, t0, 0)
                        for i in range(10)])
        await h.append([Sample("IMM01/OperationalData/Counters.Scrap", None, None, None, t0 + 11 * 10**9,
                               0x808A0000)])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway.cli", "history", "--db", str(db), *args],
                              capture_output=True, text=True)

    listing = run()
    assert listing.returncode == 0, listing.stderr
    assert "IMM01/OperationalData/Counters.Scrap" in listing.stdout and "BadNotConnected" in listing.stdout
    last = run("IMM01/OperationalData/Counters.Scrap", "--last", "3")
    lines = last.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[-1].endswith("BadNotConnected") and " 9 " in lines[-2]
    buckets = run("IMM01/OperationalData/Counters.Scrap", "--bucket", "1h", "--since", "1d")
    rows = buckets.stdout.strip().splitlines()[1:]
    assert sum(int(r.split()[1]) for r in rows) == 10  # the bad sample is not aggregated
    unknown = run("IMM01/OperationalData/Nope")
    assert unknown.returncode == 1 and "unknown point" in unknown.stderr
    assert run("--since", "5 minutes").returncode == 2
