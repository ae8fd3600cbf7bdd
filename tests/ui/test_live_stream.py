"""The live stream over a real uvicorn: a sample published into the pipeline reaches the browser's stream,
with its quality; one message per tick carries every change; the stream ends with its session and
when the gateway stops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.sample import Sample, now_ns
from tests.ui.conftest import GatewayFactory, base, gateway_config, new_key, sign_in

ZONE1 = "IMM01/OperationalData/Barrel.Zone1.Temperature"
STATE = "IMM01/OperationalData/Machine.State"


async def events(r: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of a Server-Sent Events response."""
    event, data = "message", list[str]()
    async for line in r.aiter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


async def next_event(it: AsyncIterator[tuple[str, Any]], want: str, timeout: float = 10) -> Any:
    async with asyncio.timeout(timeout):
        async for event, data in it:
            if event == want:
                return data
    raise AssertionError(f"stream ended before a {want!r} event")


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_a_sample_reaches_the_stream_within_a_second_with_its_quality(gateway: GatewayFactory,
                                                                           tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key = new_key(cfg, "reader")
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw), timeout=30) as http:
        await sign_in(http, key)
        async with http.stream("GET", "/ui/api/stream", params={"view": "asset:IMM01"}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-store"
            it = events(r)
            snapshot = await next_event(it, "values")
            assert ZONE1 in snapshot["v"] and snapshot["v"][ZONE1][1] == "Bad"  # the machine is unreachable
            status = await next_event(it, "status")
            assert status["assets"]["IMM01"]["state"] in ("connecting", "disconnected")
            t0 = time.monotonic()
            ts = now_ns()
            await gw.pipeline.publish([Sample(ZONE1, 231.5, ts, None, ts, 0),
                                       Sample(STATE, "Running", ts, None, ts, 0)])
            update = await next_event(it, "values", timeout=5)
            latency = time.monotonic() - t0
            assert update["v"][ZONE1][:3] == [231.5, "Good", 0]
            assert update["v"][ZONE1][3].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
            assert update["v"][STATE][0] == "Running"  # both changes in one message
            assert latency < 2.0, latency
            # a bad sample shows as bad: the last good value stays, marked Bad, never passed off as good
            await gw.pipeline.publish([Sample(ZONE1, None, ts + 1000, None, ts + 1000, 0x808A0000)])
            update = await next_event(it, "values", timeout=5)
            assert update["v"][ZONE1][1:3] == ["Bad", 0x808A0000]
        # the overview view carries the asset's state and the gateway strip
        async with http.stream("GET", "/ui/api/stream", params={"view": "overview"}) as r:
            it = events(r)
            snapshot = await next_event(it, "values")
            assert snapshot["v"][STATE][0] == "Running"
            status = await next_event(it, "status")
            assert status["strip"]["sources"] == {"connected": 0, "total": 3}
            assert status["assets"]["IMM01"]["category"] == "unknown"  # not connected: never production
        assert (await http.get("/ui/api/stream", params={"view": "asset:NOPE"})).status_code == 404
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw)) as anonymous:
        assert (await anonymous.get("/ui/api/stream")).status_code == 401


async def test_the_stream_ends_with_its_session_and_at_gateway_stop(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key = new_key(cfg, "reader")
    async with gateway(cfg=cfg) as gw:
        assert gw.dashboard is not None
        async with httpx.AsyncClient(base_url=base(gw), timeout=30) as http:
            await sign_in(http, key)
            async with http.stream("GET", "/ui/api/stream", params={"view": "overview"}) as r:
                it = events(r)
                await next_event(it, "status")
                for s in gw.dashboard.sessions._sessions.values():
                    s.ends = 0.0
                # the next wake (a status tick at the latest) notices the session is over
                ts = now_ns()
                await gw.pipeline.publish([Sample(STATE, "Idle", ts, None, ts, 0)])
                await next_event(it, "expired", timeout=10)
            await sign_in(http, key)
            async with http.stream("GET", "/ui/api/stream", params={"view": "overview"}) as r:
                it = events(r)
                await next_event(it, "status")
                t0 = time.monotonic()
                await gw.stop()  # open streams must not hold the API server for its 10 s grace period
                assert time.monotonic() - t0 < 8


async def test_fifty_streams_share_one_encoded_message_per_tick(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key = new_key(cfg, "reader")
    cfg = cfg.with_overrides({"api.limits.max_connections": 200})
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw), timeout=30,
                                                         limits=httpx.Limits(max_connections=60)) as http:
        assert gw.dashboard is not None
        await sign_in(http, key)
        hub = gw.dashboard.hub
        got: list[float] = []

        async def client(ready: asyncio.Event, done: asyncio.Event) -> None:
            async with http.stream("GET", "/ui/api/stream", params={"view": "asset:IMM01"}) as r:
                it = events(r)
                await next_event(it, "values")
                ready.set()
                while True:
                    data = await next_event(it, "values", timeout=10)
                    if data["v"].get(ZONE1, [None])[0] == 199.0:
                        got.append(time.monotonic())
                        done.set()
                        return

        readies = [asyncio.Event() for _ in range(50)]
        dones = [asyncio.Event() for _ in range(50)]
        tasks = [asyncio.create_task(client(r, d)) for r, d in zip(readies, dones, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        before = hub.messages
        ts = now_ns()
        await gw.pipeline.publish([Sample(ZONE1, 199.0, ts, None, ts, 0)])
        await asyncio.wait_for(asyncio.gather(*(d.wait() for d in dones)), 20)
        await asyncio.gather(*tasks)
        assert len(got) == 50
        # every browser got it, from one message encoded once (plus at most a status tick meanwhile)
        assert hub.messages - before <= 3
