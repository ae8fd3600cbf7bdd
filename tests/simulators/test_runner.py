"""``python -m simulators`` as a subprocess: JSON startup lines, a live endpoint, clean SIGINT exit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client

pytestmark = pytest.mark.slow  # the simulator runner in a subprocess

REPO = Path(__file__).resolve().parents[2]


def test_runner_subprocess_json_and_sigint() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators", "--json", "--machine", "cnc:0", "--machine", "scale:0:n=100"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None  # both PIPEs
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # blocks until a line or EOF; the subprocess is bounded
            if not line:
                break
            lines.append(json.loads(line))
            if lines[-1] == {"ready": True}:
                break
        assert lines and lines[-1] == {"ready": True}, (lines, proc.stderr.read() if proc.poll() is not None else "")
        machines = lines[:-1]
        assert [m["type"] for m in machines] == ["cnc", "scale"]
        assert machines[0]["name"] == "CNC01" and machines[0]["namespace"] == "urn:aas-gateway:sim:cnc"
        assert machines[1]["endpoint"].startswith("opc.tcp://127.0.0.1:")

        async def probe() -> Any:
            async with Client(machines[1]["endpoint"], timeout=10) as client:
                ns = await client.get_namespace_index("urn:aas-gateway:sim:scale")
                return await client.get_node(f"ns={ns};s=Vars.V00099").read_value()

        assert isinstance(asyncio.run(probe()), float)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
