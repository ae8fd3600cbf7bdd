"""One HTTP request must never stall collection: bad and oversized bodies cost the event loop no more than a few ms.

The gateway runs as its own process (`aas-gateway run`) with a simulated machine in another, as in
production, so that neither the probe nor the attacker shares its event loop or its GIL. While
curl sends bodies of 1 MB and 10 MB (refused with 413 as they stream in) and 60 KB bad strings
(parsed, refused with 400, audited), a probe asks `/health/live` every 20 ms. Two measures, both
asserted: the probe's latency (what a client sees, including its own scheduling on a loaded box)
and the gateway's own event-loop lag (`gateway_event_loop_lag_seconds`, taken inside the loop
every 20 ms). The OPC UA session must not drop (its connect count stays where it was).

Before this issue a 10 MB bad string blocked the loop for 2-5 s and once timed out all sessions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.api.ids import encode_id
from gateway.auth.apikeys import ApiKeyStore
from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # a gateway and a simulator in their own processes, under attack

PROBE_EVERY_S = 0.02
MAX_LATENCY_S = 0.05
STALL_CEILING_S = 5.0  # see the asserts at the end
ROUNDS = 8
SM = encode_id("urn:test:aas:CNC01:submodels:OperationalData")
STATUS_SM = encode_id("urn:test:aas:CNC01:submodels:GatewayStatus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_simulator() -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "simulators", "--machine", "cnc:0", "--json",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    machine: dict[str, Any] = {}
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, "simulator ended before it was ready"
        data = json.loads(line)
        if data.get("ready"):
            return proc, machine
        machine = data


def lag_histogram(metrics: str) -> dict[str, float]:
    """le -> cumulative count of gateway_event_loop_lag_seconds."""
    out = {}
    for line in metrics.splitlines():
        if line.startswith("gateway_event_loop_lag_seconds_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


def _lag_summary(before: dict[str, float], after: dict[str, float]) -> tuple[float, str]:
    """(smallest bucket bound holding every lag sample between two scrapes, a readable distribution)."""
    late = {le: after[le] - before[le] for le in after}
    total = late["+Inf"]
    worst = min((float(le) for le in late if le != "+Inf" and late[le] == total), default=float("inf"))
    shown = ", ".join(f"<={float(le) * 1000:g}ms: {n:.0f}" for le, n in late.items() if le != "+Inf")
    return worst, f"{total:.0f} samples ({shown})"


def _over(before: dict[str, float], after: dict[str, float], limit: float) -> int:
    """How many lag samples between two scrapes lie above the smallest bucket bound >= `limit`."""
    late = {float(le): after[le] - before[le] for le in after}
    bound = min((le for le in late if le >= limit), default=float("inf"))
    return round(late[float("inf")] - late[bound])


def _latency_summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return (f"{len(ordered)} requests, median {statistics.median(ordered) * 1000:.1f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")


async def curl(url: str, key: str, body: Path, content_type: str = "application/json") -> str:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "--data-binary", f"@{body}",
        "-H", f"Authorization: Bearer {key}", "-H", f"Content-Type: {content_type}", "--max-time", "30", url,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return out.decode()


async def test_bad_and_oversized_bodies_do_not_stall_the_loop(tmp_path: Path) -> None:
    sim, machine = await start_simulator()
    gw: asyncio.subprocess.Process | None = None
    try:
        port = free_port()
        cfg = {
            "historian": {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 50},
            "api": {"port": port, "auth": {"anonymous_read": True}},
            "assets": [{
                "id_short": "CNC01", "id": "urn:test:aas:CNC01", "global_asset_id": "urn:test:asset:CNC01",
                "source": {"type": "opcua", "endpoint": machine["endpoint"], "namespace": machine["namespace"],
                           "security": {"policy": "None", "mode": "None"}, "publishing_interval_ms": 100,
                           "keepalive_s": 1.0},
                "points": [{"node": "s=Feed.Override", "path": "Feed.Override", "type": "xs:double",
                            "writable": True},
                           {"node": "s=Spindle.Speed", "path": "Spindle.Speed", "type": "xs:double"}],
            }],
        }
        cfg_file = tmp_path / "gateway.yaml"
        cfg_file.write_text(yaml.safe_dump(cfg))
        key, _ = ApiKeyStore(tmp_path / "api-keys.json").create("stall-test", "operator")
        gw = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg_file),
                                                  "--log-level", "WARNING", stderr=asyncio.subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        api = f"{base}/api/v3.0"
        value_url = f"{api}/submodels/{SM}/submodel-elements/Feed.Override/$value"
        bodies = {"1MB": b"[" + b"1," * 524_287 + b"1]", "10MB": b'"' + b"x" * 10_000_000 + b'"',
                  "60KB": b'"' + b"x" * 60_000 + b'"'}
        files = {}
        for name, data in bodies.items():
            files[name] = tmp_path / f"{name}.json"
            files[name].write_bytes(data)

        async with httpx.AsyncClient(timeout=10) as http:

            async def connects() -> int | None:
                try:
                    r = await http.get(f"{api}/submodels/{STATUS_SM}/$value")
                except httpx.TransportError:  # not listening yet
                    return None
                if r.status_code != 200 or r.json().get("ConnectionState") != "connected":
                    return None
                return int(r.json()["Connects"])

            before = await wait_for(connects, timeout=60, message="gateway up, machine connected")
            await asyncio.sleep(1.0)  # let start-up work settle before measuring
            async def probe(seconds: float | None, done: asyncio.Event | None = None) -> list[float]:
                latencies: list[float] = []
                end = time.monotonic() + (seconds or 3600)
                async with httpx.AsyncClient(timeout=5) as p:
                    while time.monotonic() < end and not (done is not None and done.is_set()):
                        t0 = time.perf_counter()
                        r = await p.get(f"{base}/health/live")
                        latencies.append(time.perf_counter() - t0)
                        assert r.status_code == 200
                        await asyncio.sleep(PROBE_EVERY_S)
                return latencies

            # what this box does without an attack, for the report
            lag0 = lag_histogram((await http.get(f"{base}/metrics")).text)
            idle = await probe(2.0)
            lag_before = lag_histogram((await http.get(f"{base}/metrics")).text)

            done = asyncio.Event()
            prober = asyncio.create_task(probe(None, done))
            statuses = []
            for _ in range(ROUNDS):  # one at a time: the client's CPU is the box's too
                for name in ("1MB", "10MB", "60KB"):
                    statuses.append(await curl(value_url, key, files[name]))
            done.set()
            latencies = await prober

            lag_after = lag_histogram((await http.get(f"{base}/metrics")).text)
            after = await connects()

        assert statuses == ["413", "413", "400"] * ROUNDS
        worst_idle, _ = _lag_summary(lag0, lag_before)
        worst_bucket, lag_report = _lag_summary(lag_before, lag_after)
        report = (f"idle: probe {_latency_summary(idle)}, loop lag all <= {worst_idle * 1000:.0f} ms; "
                  f"attack: probe {_latency_summary(latencies)}, loop lag {lag_report}")
        print(report)
        assert after == before, f"the OPC UA session reconnected ({before} -> {after} connects); {report}"
        # 50 ms, unless this (shared, loaded) box already stalls the idle gateway that long: then twice what it
        # did idle. Either way a parse or a write that holds the loop (2-5 s before this issue) fails it.
        limit = max(MAX_LATENCY_S, 2 * worst_idle)
        # Both measures also see the box's scheduling: a gateway or probe process descheduled on a loaded 2-core
        # box (other work shares it) shows as lag though no callback held the loop; measured here with other
        # test suites running: one sample of 1-2.5 s among ~200. So the assert counts: a body that holds the
        # loop does it every round (8 rounds x 3 bodies), scheduling does it once or twice; and no lag may reach
        # the top of the stall this guards against (2-5 s), which also timed out the OPC UA session (see above).
        assert _over(lag_before, lag_after, limit) < ROUNDS // 2, report  # the gateway's own measure
        assert worst_bucket <= STALL_CEILING_S, report
        probe_limit = max(limit, 2 * max(idle))
        assert sum(t > probe_limit for t in latencies) < ROUNDS // 2 and max(latencies) < STALL_CEILING_S, report
    finally:
        for proc in (gw, sim):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
