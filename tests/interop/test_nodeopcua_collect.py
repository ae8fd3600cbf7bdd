"""The gateway against node-opcua: what the server offered is what the historian holds, exactly.

Counters change only when a test tells the server to, and their value is their sequence number, so
"offered" is known exactly: every value from the start value to the last one, once each, in order.
Every test waits by polling (wait_for) and compares sets of values, never timings, so they hold on a
loaded 2-core machine. asyncua on both ends cannot show the codec bugs these catch (issue 9).
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest

from connectors import status as st
from connectors.base import ConnectionState
from gateway.app import Gateway
from tests.conftest import wait_for
from tests.interop.conftest import (
    USERS,
    StartServer,
    counter_names,
    good_values,
    holds,
    interop_asset,
    interop_config,
    stored,
    trust,
)
from tests.interop.nodeopcua_peer import NodeOpcuaServer
from tests.secrets import secret

pytestmark = pytest.mark.slow  # node-opcua servers in their own processes; restarts

OUTAGE_S = 20.0
UINT32 = "UInt32"  # the counters' OPC UA type, named as an integrator reads it off the server


def counters_asset(server: NodeOpcuaServer, n: int, **source: Any) -> dict[str, Any]:
    return interop_asset("NODE01", server, dict.fromkeys(counter_names(n), UINT32), **source)


async def assert_exact(gw: Gateway, paths: list[str], expected: list[int]) -> None:
    """Each point holds exactly `expected` as its good values: no gap, no duplicate, no extra, in order."""
    for path in paths:
        got = await good_values(gw, "NODE01", path)
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        assert got == expected, (f"{path}: {len(got)} stored, {len(expected)} offered; missing {missing[:10]}, "
                                 f"extra {extra[:10]}, duplicates {len(got) - len(set(got))}")


async def test_subscription_stores_exactly_what_the_server_offered(nodeopcua: StartServer, tmp_path: Path) -> None:
    server = await nodeopcua(counters=10, counter_start=100)
    paths = counter_names(10)
    cfg = interop_config(tmp_path, counters_asset(server, 10))
    async with Gateway(cfg) as gw:
        # the window opens once the initial value (100) of every counter is stored
        await wait_for(lambda: holds(gw, "NODE01", paths, 100), timeout=30, message="initial values stored")
        done = await server.arun_and_wait("counters", changes=100, rate_hz=20)
        assert done["changes"] == 100 and done["value"] == 200
        await wait_for(lambda: holds(gw, "NODE01", paths, 200), timeout=30, message="last offered value stored")
        await assert_exact(gw, paths, list(range(100, 201)))
        for r in await stored(gw, "NODE01", paths[0]):
            assert r.status == st.GOOD and isinstance(r.value, int)
        assert gw.sources["NODE01"].health().state == ConnectionState.CONNECTED


async def test_polling_stores_every_value_the_server_held(nodeopcua: StartServer, tmp_path: Path) -> None:
    server = await nodeopcua(counters=3)
    paths = counter_names(3)
    cfg = interop_config(tmp_path, counters_asset(server, 3, mode="poll", publishing_interval_ms=100))
    async with Gateway(cfg) as gw:
        src = gw.sources["NODE01"]
        await wait_for(lambda: holds(gw, "NODE01", paths, 0), timeout=30, message="initial values stored")
        assert src.poll_groups and src.subscriptions is None  # type: ignore[attr-defined]
        # one change at a time, each held until the gateway stored it: every value is offered to a poll,
        # whatever the load, and an unchanged value read many times is stored once
        for value in range(1, 16):
            await server.arun_and_wait("counters", changes=1, rate_hz=100)
            await wait_for(functools.partial(holds, gw, "NODE01", paths, value), message=f"value {value} polled")
        await assert_exact(gw, paths, list(range(16)))


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
async def test_each_policy_with_sign_and_encrypt_and_a_password(nodeopcua: StartServer, tmp_path: Path,
                                                                policy: str) -> None:
    server = await nodeopcua(counters=2, users=USERS)
    paths = counter_names(2)
    cfg = interop_config(tmp_path, counters_asset(
        server, 2, security={"policy": policy, "mode": "SignAndEncrypt"},
        user={"username": "alice", "password": USERS["alice"]}))
    trust(cfg, server)
    async with Gateway(cfg) as gw:
        src = gw.sources["NODE01"]
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, timeout=30,
                       message=f"secured session (last error: {src.health().last_error})")
        client = src._client  # type: ignore[attr-defined]
        assert client is not None
        assert (client.security_policy.URI.rsplit("#", 1)[-1], client.security_policy.Mode.name) == (
            policy, "SignAndEncrypt")
        await wait_for(lambda: holds(gw, "NODE01", paths, 0), timeout=30, message="initial values stored")
        await server.arun_and_wait("counters", changes=20, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", paths, 20), timeout=30, message="last value stored")
        await assert_exact(gw, paths, list(range(21)))


async def test_wrong_password_is_refused_by_node_opcua_and_says_so(nodeopcua: StartServer, tmp_path: Path) -> None:
    server = await nodeopcua(counters=1, users=USERS)
    cfg = interop_config(tmp_path, counters_asset(
        server, 1, security={"policy": "Basic256Sha256", "mode": "SignAndEncrypt"},
        user={"username": "alice", "password": secret("not-the-password-91ab")}))
    trust(cfg, server)
    async with Gateway(cfg) as gw:
        src = gw.sources["NODE01"]
        error = await wait_for(lambda: src.health().last_error, timeout=30, message="a refusal")
        assert "BadUserAccessDenied" in error or "BadIdentityTokenRejected" in error, error
        assert src.health().connects == 0


@pytest.mark.slow
async def test_server_restart_keeps_what_was_offered_before_and_after(nodeopcua: StartServer,
                                                                      tmp_path: Path) -> None:
    server = await nodeopcua(counters=5)
    paths = counter_names(5)
    cfg = interop_config(tmp_path, counters_asset(server, 5))
    async with Gateway(cfg) as gw:
        src = gw.sources["NODE01"]
        await wait_for(lambda: holds(gw, "NODE01", paths, 0), timeout=30, message="initial values stored")
        await server.arun_and_wait("counters", changes=30, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", paths, 30), timeout=30, message="values before the restart")
        offered = await server.astop()
        assert offered is not None and offered["values"]["counters"] == 30
        await wait_for(lambda: all(p.status == st.BAD_NOT_CONNECTED for p in src.health().points.values()),
                       timeout=30, message="points marked BadNotConnected")
        # the machine comes back on the same port with the same certificate; its counters start elsewhere,
        # so a value stored twice or from the wrong side of the restart shows
        await server.astart(counter_start=1000)
        await wait_for(lambda: holds(gw, "NODE01", paths, 1000), timeout=30, message="initial values after restart")
        assert src.health().connects == 2
        await server.arun_and_wait("counters", changes=30, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", paths, 1030), timeout=30, message="values after the restart")
        await assert_exact(gw, paths, list(range(31)) + list(range(1000, 1031)))
        rows = await stored(gw, "NODE01", paths[0])
        outage = [r for r in rows if r.status == st.BAD_NOT_CONNECTED]
        assert len(outage) == 1 and outage[0].value is None, "the outage is stored once, as a status"


@pytest.mark.slow
async def test_data_resumes_within_3_s_of_a_restarted_server_being_reachable(nodeopcua: StartServer,
                                                                             tmp_path: Path) -> None:
    """Issue 9 point 7 against node-opcua, with the default backoff (0.5 s doubling up to 30 s)."""
    server = await nodeopcua(counters=1)
    cfg = interop_config(tmp_path, counters_asset(server, 1, reconnect={}))
    async with Gateway(cfg) as gw:
        await wait_for(lambda: holds(gw, "NODE01", ["Counters.C00"], 0), timeout=30, message="collecting")
        await server.astop()
        # the scenario, not a synchronisation: a machine switched off for 20 s; the backoff has grown by then
        # (attempts ~0.5, 1.5, 3.5, 7.5, 15.5 s after the loss, the next one ~31.5 s): waiting it out would
        # resume ~10 s after the server is back
        await asyncio.sleep(OUTAGE_S)
        await server.astart(counter_start=500)
        reachable = asyncio.get_running_loop().time()
        await wait_for(lambda: holds(gw, "NODE01", ["Counters.C00"], 500), timeout=60, message="data resumed")
        resumed_after = asyncio.get_running_loop().time() - reachable
        # the contract is 3 s; 2 s more are allowed for a loaded 2-core machine
        assert resumed_after < 5.0, f"data resumed {resumed_after:.1f} s after the server was reachable again"
        counts = await server.acommand("counts")
        assert counts["sessions"] == 1, f"{counts['sessions']} sessions created on the restarted server"


async def test_a_node_that_disappears_marks_only_its_point_bad_and_comes_back(nodeopcua: StartServer,
                                                                              tmp_path: Path) -> None:
    server = await nodeopcua(counters=3)
    paths = counter_names(3)
    gone, others = paths[1], [paths[0], paths[2]]
    cfg = interop_config(tmp_path, counters_asset(server, 3))
    async with Gateway(cfg) as gw:
        src = gw.sources["NODE01"]
        points = src.health().points
        await wait_for(lambda: holds(gw, "NODE01", paths, 0), timeout=30, message="initial values stored")
        await server.acommand("delete", node=gone)
        await wait_for(lambda: points[f"NODE01/OperationalData/{gone}"].status == st.BAD_NODE_ID_UNKNOWN,
                       timeout=30, message="the deleted node's point marked BadNodeIdUnknown")
        # the rest keeps flowing, count-exact, on the same session
        await server.arun_and_wait("counters", changes=10, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", others, 10), timeout=30, message="the others keep arriving")
        await assert_exact(gw, others, list(range(11)))
        assert src.health().state == ConnectionState.CONNECTED and src.health().connects == 1
        assert [k for k, p in points.items() if p.status != st.GOOD] == [f"NODE01/OperationalData/{gone}"]
        rows = await stored(gw, "NODE01", gone)
        assert rows[-1].status == st.BAD_NODE_ID_UNKNOWN and rows[-1].value is None
        assert [r.value for r in rows if r.status == st.GOOD] == [0], "nothing stored while it was gone"

        # it comes back (a PLC program download): the periodic retry finds it, and it is counted again
        await server.acommand("restore", node=gone)
        await wait_for(lambda: points[f"NODE01/OperationalData/{gone}"].status == st.GOOD, timeout=30,
                       message="restored node good again")
        await server.arun_and_wait("counters", changes=5, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", paths, 15), timeout=30, message="all three get the new values")
        # back with the value it had on the machine (10), then every change
        assert await good_values(gw, "NODE01", gone) == [0, 10, 11, 12, 13, 14, 15]
        await assert_exact(gw, others, list(range(16)))
