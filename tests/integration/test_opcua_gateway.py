"""The gateway against real simulated machines: both modes, restarts, missing nodes, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua

from connectors import status as st
from connectors.base import ConnectionState
from gateway.app import Gateway
from simulators.cnc import CncMachine
from simulators.energy import EnergyMeter
from simulators.scale import ScaleMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on simulators over real sockets; restarts, deleted nodes

CNC_POINTS = {
    "Machine.State": "xs:string", "Program.PartCount": "xs:unsignedInt", "Spindle.Speed": "xs:double",
    "Spindle.Load": "xs:double", "Axes.X.Position": "xs:double", "Tool.Wear": "xs:double",
    "Alarm.Active": "xs:boolean", "Coolant.Temperature": "xs:double",
}


async def rows(gw: Gateway, asset_name: str, path: str, **kw: Any) -> list[Any]:
    await gw.historian.flush()
    return await gw.historian.query(asset_name, "OperationalData", path, limit=100000, **kw)


async def test_subscription_mode_collects_every_point(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=3)
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, CNC_POINTS))
    async with Gateway(cfg) as gw:
        async def all_good() -> bool:
            h = gw.sources["CNC01"].health()
            return h.state == ConnectionState.CONNECTED and all(p.status == st.GOOD for p in h.points.values())
        await wait_for(all_good, message="all CNC points good")
        # the axes move while the machine runs: several distinct values arrive
        await wait_for(lambda: rows(gw, "CNC01", "Axes.X.Position"), message="X position samples")
        x = await wait_for(lambda: _at_least(gw, "CNC01", "Axes.X.Position", 5), message="5 X samples")
        assert len({r.value for r in x}) >= 2
        for r in x:
            assert r.status == st.GOOD and isinstance(r.value, float)
            assert r.source_ts is not None and r.server_ts is not None and r.recv_ts >= r.source_ts - 10**9
        counts = await rows(gw, "CNC01", "Program.PartCount")
        values = [r.value for r in counts]
        assert values == sorted(values) and all(isinstance(v, int) for v in values)
        state = await rows(gw, "CNC01", "Machine.State")
        assert state[-1].value in {"Running", "Idle", "Setup", "Alarm", "Off"}


async def _at_least(gw: Gateway, a: str, path: str, n: int) -> list[Any] | None:
    r = await rows(gw, a, path)
    return r if len(r) >= n else None


async def test_poll_mode_reads_on_schedule(machines: Any, tmp_path: Path) -> None:
    em = await machines(EnergyMeter, name="EM01", seed=1)
    paths = {"Energy.ActiveImport": "xs:double", "Power.Active": "xs:double", "Voltage.L1": "xs:double"}
    cfg = gateway_config(tmp_path, asset("EM01", em, paths, mode="poll", publishing_interval_ms=200))
    async with Gateway(cfg) as gw:
        src = gw.sources["EM01"]
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, message="connected")
        energy = await wait_for(lambda: _at_least(gw, "EM01", "Energy.ActiveImport", 8), message="energy samples")
        values = [r.value for r in energy]
        assert values == sorted(values), "the kWh register never goes back"
        group = src.poll_groups[0]  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()

        def ticks() -> int:  # every 200 ms tick of the schedule is either a read or, if a read overran, counted
            return int(group.polls + group.overruns)

        t0, k0 = loop.time(), ticks()
        await wait_for(lambda: ticks() >= k0 + 10, message="10 more ticks")
        elapsed = loop.time() - t0
        # an absolute schedule follows the clock: 10 ticks take ~2 s. Bunched catch-up reads would come back to
        # back (10 reads: ~0.1 s), so at least half the schedule must pass; at most the schedule plus 3 s, slack
        # for a starved event loop on a loaded 2-core box (ticks it misses while starved count as overruns)
        assert 1.0 <= elapsed <= 2.0 + 3.0, (elapsed, group.polls, group.overruns)


async def test_restart_of_server_is_survived(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=5)
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, CNC_POINTS))
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, message="connected")
        await cnc.stop()
        await wait_for(lambda: src.health().state == ConnectionState.DISCONNECTED, message="loss detected")
        await wait_for(lambda: all(p.status == st.BAD_NOT_CONNECTED for p in src.health().points.values()),
                       message="points marked BadNotConnected")
        lost = await rows(gw, "CNC01", "Spindle.Speed")
        assert lost[-1].status == st.BAD_NOT_CONNECTED and lost[-1].value is None
        marker = lost[-1].seq
        await cnc.start()  # same port, same node ids
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, timeout=30, message="reconnected")
        assert src.health().connects == 2

        async def every_point_resumed() -> bool:
            for path in CNC_POINTS:
                after = [r for r in await rows(gw, "CNC01", path) if r.seq > marker and r.status == st.GOOD]
                if not after:
                    return False
            return True
        await wait_for(every_point_resumed, message="every point delivering again")


@pytest.mark.parametrize("server_notifies", [False, True], ids=["silent-delete", "notified-delete"])
async def test_removed_node_marks_only_that_point_bad(machines: Any, tmp_path: Path, server_notifies: bool) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=7)
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, CNC_POINTS))
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        points = src.health().points
        await wait_for(lambda: points["CNC01/OperationalData/Coolant.Temperature"].status == st.GOOD,
                       message="coolant good")
        cnc.freeze("Coolant.Temperature")  # a quiet node: only the existence check can notice it vanish
        if server_notifies:  # some servers do report the deletion as the item's status
            assert cnc._server is not None
            await cnc._server.write_attribute_value(
                ua.NodeId("Coolant.Temperature", cnc.namespace_index),  # type: ignore[arg-type]  # asyncua str subtype
                ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)))  # type: ignore[arg-type]  # asyncua int subtype
        await cnc.remove_node("Coolant.Temperature")
        await wait_for(lambda: points["CNC01/OperationalData/Coolant.Temperature"].status == st.BAD_NODE_ID_UNKNOWN,
                       message="removed node marked BadNodeIdUnknown")
        bad = await rows(gw, "CNC01", "Coolant.Temperature")
        assert bad[-1].status == st.BAD_NODE_ID_UNKNOWN
        mark = bad[-1].seq
        # the rest keeps flowing and stays good
        await wait_for(lambda: _newer(gw, "CNC01", "Axes.X.Position", mark), message="others keep arriving")
        assert src.health().state == ConnectionState.CONNECTED
        assert [k for k, p in points.items() if p.status != st.GOOD] == ["CNC01/OperationalData/Coolant.Temperature"]
        # the node comes back (e.g. after a PLC download): the periodic retry picks it up
        await cnc.restore_node("Coolant.Temperature")
        cnc.freeze("Coolant.Temperature", False)
        await wait_for(lambda: points["CNC01/OperationalData/Coolant.Temperature"].status == st.GOOD,
                       message="restored node good again")


async def _newer(gw: Gateway, a: str, path: str, seq: int) -> bool:
    return any(r.seq > seq and r.status == st.GOOD for r in await rows(gw, a, path))


async def test_type_mismatch_and_unknown_node_affect_only_their_point(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=9)
    a = asset("CNC01", cnc, {"Spindle.Speed": "xs:double"})
    a["points"] += [
        {"node": "s=Program.Name", "path": "Program.NameAsNumber", "type": "xs:int"},  # a string is no int
        {"node": "s=Does.Not.Exist", "path": "Ghost", "type": "xs:double"},
        {"browse_path": "Objects/CNC01/Spindle/Load", "path": "Spindle.Load", "type": "xs:double"},
    ]
    async with Gateway(gateway_config(tmp_path, a)) as gw:
        points = gw.sources["CNC01"].health().points
        await wait_for(lambda: points["CNC01/OperationalData/Spindle.Load"].status == st.GOOD,
                       message="browse-path point resolves")
        await wait_for(lambda: points["CNC01/OperationalData/Ghost"].status == st.BAD_NODE_ID_UNKNOWN,
                       message="unknown node is bad")
        mismatch = await wait_for(lambda: rows(gw, "CNC01", "Program.NameAsNumber"), message="mismatch row")
        assert mismatch[0].status == st.BAD_TYPE_MISMATCH and mismatch[0].value is None
        await wait_for(lambda: _at_least(gw, "CNC01", "Spindle.Speed", 3), message="speed keeps flowing")


async def test_server_operation_limits_are_respected(machines: Any, tmp_path: Path) -> None:
    # the simulator enforces its limits: one oversized call would fail with BadTooManyOperations
    limits = {"MaxNodesPerRead": 40, "MaxMonitoredItemsPerCall": 25, "MaxNodesPerTranslateBrowsePathsToNodeIds": 10}
    scale = await machines(ScaleMachine, name="SCALE01", n=300, rate_hz=1.0, operation_limits=limits)
    paths = {f"Vars.V{i:05d}": "xs:double" for i in range(300)}
    sub = asset("S1", scale, paths)
    poll = asset("S2", scale, paths, mode="poll", publishing_interval_ms=300)
    poll["points"][:20] = [{"browse_path": f"Objects/SCALE01/Vars/V{i:05d}", "path": f"Vars.V{i:05d}",
                            "type": "xs:double"} for i in range(20)]
    async with Gateway(gateway_config(tmp_path, sub, poll)) as gw:
        for name in ("S1", "S2"):
            pts = gw.sources[name].health().points
            await wait_for(lambda pts=pts: all(p.status == st.GOOD for p in pts.values()), timeout=30,  # type: ignore[misc]  # a lambda's default argument (binds the loop's pts)
                           message=f"all 300 points of {name} good")
        s1 = gw.sources["S1"]
        assert s1.limits.max_monitored_items_per_call == 25  # type: ignore[attr-defined]
        assert gw.sources["S2"].limits.max_nodes_per_read == 40  # type: ignore[attr-defined]


async def test_silently_dropped_subscription_is_rebuilt(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=11)
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, {"Axes.X.Position": "xs:double"}))
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        await wait_for(lambda: src.subscriptions and src.subscriptions.subscriptions,  # type: ignore[attr-defined]
                       message="subscription up")
        engine = src.subscriptions  # type: ignore[attr-defined]
        # the server forgets every subscription without telling the client (as a PLC reboot of the
        # OPC UA stack behind a proxy would); only the keep-alive watchdog can notice
        assert cnc._server is not None
        service = cnc._server.iserver.subscription_service
        ids = list(service.subscriptions.keys())
        assert ids
        await service.delete_subscriptions(ids)
        await wait_for(lambda: engine.rebuilds >= 1, timeout=15, message="watchdog rebuild")
        mark = max(r.seq for r in await rows(gw, "CNC01", "Axes.X.Position"))
        await wait_for(lambda: _newer(gw, "CNC01", "Axes.X.Position", mark), message="data flowing again")
        assert src.health().connects == 1, "rebuilt in place, without a reconnect"


async def test_unreachable_endpoint_retries_with_backoff(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = gateway_config(tmp_path, {
        "id_short": "M", "id": "urn:t:aas:M", "global_asset_id": "urn:t:asset:M",
        "source": {"endpoint": f"opc.tcp://127.0.0.1:{port}/", "security": {"policy": "None", "mode": "None"},
                   "reconnect": {"initial_delay_s": 0.1, "max_delay_s": 0.4}},
        "points": [{"node": "ns=2;s=X", "path": "X", "type": "xs:double"}]})
    async with Gateway(cfg) as gw:
        src = gw.sources["M"]
        await wait_for(lambda: src.health().points["M/OperationalData/X"].status == st.BAD_NOT_CONNECTED,
                       message="point marked not connected")
        h = src.health()
        assert h.state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
        assert h.last_error and ("Connect" in h.last_error or "refused" in h.last_error.lower()), h.last_error
        # still exactly one status row however many attempts were made
        r = await rows(gw, "M", "X")
        assert len(r) == 1

