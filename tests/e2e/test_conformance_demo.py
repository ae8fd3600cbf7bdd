"""Acceptance: the demo gateway passes IDTA's aas-test-engines, server suites and file checks.

Runs against `aas-gateway demo` itself (live simulators, real uvicorn), not a test fixture, so what
is certified is what users run.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # the demo in its own process, IDTA's test engine against it

SUITES = "https://admin-shell.io/aas/API/3/0/{}ServiceSpecification/SSP-002"


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


@pytest.fixture
async def demo_api(tmp_path: Path) -> AsyncIterator[str]:
    exe = shutil.which("aas-gateway")
    assert exe
    proc = await asyncio.create_subprocess_exec(exe, "demo", "--port", "0", "--data-dir", str(tmp_path / "d"),
                                                "--status-every", "0", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    url = None
    try:
        async with asyncio.timeout(60):
            async for raw in proc.stdout:
                m = re.search(r"AAS API \(Part 2, read\): (\S+)", raw.decode())
                if m:
                    url = m.group(1)
                    break
        assert url, "the demo prints its API base URL"
        drain = asyncio.create_task(proc.stdout.read())
        yield url
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    # the checker of this interpreter's environment (the venv the tests run in), not one found on PATH
    return subprocess.run([sys.executable, "-m", "aas_test_engines", *args], capture_output=True, text=True,
                          timeout=600)


async def test_demo_passes_all_four_read_suites(demo_api: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        # wait for live values so the suites see the model as users do
        cnc_op = f"{demo_api}/submodels/{b64('urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData')}"

        async def has_value() -> bool:
            r = await http.get(f"{cnc_op}/submodel-elements/Machine.State/$value")
            return r.status_code == 200 and r.json().get("State") is not None

        await wait_for(has_value, timeout=30, message="live values in the model")
    targets = {
        "AssetAdministrationShellRepository": demo_api,
        "SubmodelRepository": demo_api,
        "AssetAdministrationShell": f"{demo_api}/shells/{b64('urn:aas-gateway:demo:aas:CNC01')}",
        "Submodel": cnc_op,
    }
    failures = {}
    for name, base in targets.items():
        r = await asyncio.to_thread(_check, "check_server", base, SUITES.format(name))
        counts = re.findall(r"(Negative|Positive) tests passed: (\d+) / (\d+)", r.stdout)
        ok = r.returncode == 0 and len(counts) == 2 and all(int(a) == int(b) > 0 for _, a, b in counts)
        if not ok:
            failures[name] = (r.stdout + r.stderr)[-4000:]
    assert not failures, "\n\n".join(f"--- {k} ---\n{v}" for k, v in failures.items())


@pytest.mark.parametrize(("accept", "suffix"), [("application/json", "json"),
                                                ("application/asset-administration-shell-package+xml", "aasx")])
async def test_demo_exports_pass_check_file(demo_api: str, tmp_path: Path, accept: str, suffix: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(f"{demo_api}/serialization", headers={"Accept": accept})
    assert r.status_code == 200, r.text[:500]
    f = tmp_path / f"demo.{suffix}"
    f.write_bytes(r.content)
    result = await asyncio.to_thread(_check, "check_file", "--format", suffix, str(f))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
