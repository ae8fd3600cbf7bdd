"""Gateways and simulators as separate processes (as on an edge server), for the ops tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_simulators(*args: str, env: dict[str, str] | None = None
                           ) -> tuple[asyncio.subprocess.Process, dict[str, dict[str, Any]]]:
    """`python -m simulators --json ARGS`; returns the process and name -> its startup line (endpoint, namespace)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "simulators", "--json", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                                                env=env)
    assert proc.stdout is not None
    machines: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(60):
        while True:
            line = await proc.stdout.readline()
            assert line, f"simulators ended before they were ready (code {await proc.wait()})"
            data = json.loads(line)
            if data.get("ready"):
                return proc, machines
            machines[data.get("name") or str(len(machines))] = data


async def start_gateway(config: Path, *extra: str, env: dict[str, str] | None = None,
                        log: Path | None = None) -> asyncio.subprocess.Process:
    out = open(log, "ab") if log is not None else asyncio.subprocess.DEVNULL  # noqa: ASYNC230 (small, once)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "-c", str(config),
                                                "--log-level", "WARNING", *extra, stdout=out, stderr=out,
                                                env=env or dict(os.environ))


async def stop(proc: asyncio.subprocess.Process | None, sig: int = 15, timeout: float = 60) -> int | None:
    """SIGTERM (or `sig`), then SIGKILL if it does not end in time; returns the exit code."""
    if proc is None:
        return None
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return proc.returncode


async def run_cli(*args: str, timeout: float = 300) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A read on its own connection (the gateway may be writing)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def max_seq(db: Path) -> int:
    """The last committed seq (0 while the file or its schema does not exist yet)."""
    if not db.exists():
        return 0
    try:
        return int(query(db, "SELECT coalesce(max(seq), 0) FROM samples")[0][0])
    except sqlite3.OperationalError:
        return 0


def opcua_asset(name: str, machine: dict[str, Any], points: dict[str, str], **source: Any) -> dict[str, Any]:
    src = {"type": "opcua", "endpoint": machine["endpoint"], "namespace": machine["namespace"],
           "security": {"policy": "None", "mode": "None"}, "publishing_interval_ms": 100,
           "sampling_interval_ms": 0, "keepalive_s": 1.0, "reconnect": {"initial_delay_s": 0.2, "max_delay_s": 1.0}}
    src.update(source)
    return {"id_short": name, "id": f"urn:test:aas:{name}", "global_asset_id": f"urn:test:asset:{name}",
            "source": src, "points": [{"node": f"s={p}", "path": p, "type": t} for p, t in points.items()]}


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
