"""Live tests: real asyncua servers on loopback port 0 and real asyncua clients.

Servers are module-scoped (an asyncua server needs ~1 s to initialise), so these tests share one
event loop. Synchronisation is always polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.ua.uaerrors import BadTooManyOperations, UaStatusCodeError

from simulators import CncMachine, ImmMachine, ScaleMachine
from simulators.runner import quiet_asyncua_logging
from simulators.units import unit_id
from tests.conftest import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def eventually(check: Callable[[], Awaitable[Any] | Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (tests/conftest.py's wait_for, 10 s here)."""
    return await wait_for(check, timeout=timeout, interval=interval, message="the simulator condition")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cnc() -> AsyncIterator[CncMachine]:
    quiet_asyncua_logging()
    async with CncMachine(seed=7, operation_limits={"MaxNodesPerRead": 50}) as machine:
        yield machine


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cnc_client(cnc: CncMachine) -> AsyncIterator[Client]:
    async with Client(cnc.endpoint, timeout=10) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def imm() -> AsyncIterator[ImmMachine]:
    async with ImmMachine(seed=8) as machine:
        yield machine


async def read(client: Client, machine: Any, path: str) -> Any:
    return await client.get_node(machine.node_id(path)).read_value()


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_address_space_paths_types_units_and_access(cnc: CncMachine, cnc_client: Client) -> None:
    assert cnc.endpoint.startswith("opc.tcp://127.0.0.1:") and cnc.port > 0
    ns = await cnc_client.get_namespace_index("urn:aas-gateway:sim:cnc")
    assert cnc.node_id("Spindle.Speed") == f"ns={ns};s=Spindle.Speed"
    # browse path Objects/CNC01/Spindle/Speed resolves to the String NodeId of the dotted path
    node = await cnc_client.nodes.objects.get_child([f"{ns}:CNC01", f"{ns}:Spindle", f"{ns}:Speed"])
    assert node.nodeid == ua.NodeId("Spindle.Speed", ns)  # type: ignore[arg-type]  # asyncua str subtype
    for path in cnc.specs:
        n = cnc_client.get_node(cnc.node_id(path))
        assert (await n.read_browse_name()).Name == path.rsplit(".", 1)[-1]
        assert await n.read_data_type() == ua.NodeId(cnc.specs[path].vtype.value)  # type: ignore[arg-type]  # asyncua int subtype
    speed = cnc_client.get_node(cnc.node_id("Spindle.Speed"))
    eu = await (await speed.get_child("0:EngineeringUnits")).read_value()
    assert eu.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
    assert eu.UnitId == 5394509 and eu.DisplayName.Text == "r/min"  # "RPM"
    rng = await (await speed.get_child("0:EURange")).read_value()
    assert (rng.Low, rng.High) == (0.0, 12000.0)
    assert await speed.read_type_definition() == ua.NodeId(ua.ObjectIds.AnalogItemType)  # type: ignore[arg-type]  # asyncua int subtype
    read_only = await speed.get_access_level()
    writable = await cnc_client.get_node(cnc.node_id("Feed.Override")).get_access_level()
    assert ua.AccessLevel.CurrentWrite not in read_only and ua.AccessLevel.CurrentRead in read_only
    assert ua.AccessLevel.CurrentWrite in writable
    with pytest.raises(UaStatusCodeError):
        await speed.write_value(ua.Variant(1.0, ua.VariantType.Double))
    methods = {(await m.read_browse_name()).Name for m in await cnc_client.get_node(cnc.node_id("CNC01")).get_methods()}
    assert methods == {"AcknowledgeAlarm", "StartProgram", "ResetCounters", "ChangeTool"}


async def test_values_move_and_subscription_receives_changes(cnc: CncMachine, cnc_client: Client) -> None:
    received: list[tuple[str, Any]] = []

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            received.append((node.nodeid.Identifier, val))

        def status_change_notification(self, status: Any) -> None:
            pass

    await cnc_client.get_node(cnc.node_id("CNC01")).call_method(f"{cnc.namespace_index}:StartProgram", "O1001_FLANGE")
    sub = await cnc_client.create_subscription(50, Handler())
    try:
        await sub.subscribe_data_change(
            [cnc_client.get_node(cnc.node_id(p)) for p in ("Spindle.Speed", "Coolant.Temperature")],
            sampling_interval=0,  # type: ignore[call-overload]  # asyncua float subtype
        )
        await eventually(lambda: len({v for p, v in received if p == "Spindle.Speed"}) >= 5)
    finally:
        await sub.delete()
    assert await read(cnc_client, cnc, "Machine.State") in {"Running", "Idle", "Setup", "Alarm", "Off"}


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_writing_feed_override_changes_feed_rate(cnc: CncMachine, cnc_client: Client) -> None:
    ns = cnc.namespace_index
    await cnc_client.get_node(cnc.node_id("CNC01")).call_method(f"{ns}:StartProgram", "O3300_SHAFT")
    await cnc_client.get_node(cnc.node_id("Feed.Override")).write_value(ua.Variant(50.0, ua.VariantType.Double))
    # programmed 1600 mm/min at 50 % once the approach (10 % of the 30 s cycle) is over
    await eventually(lambda: _feed_is(cnc_client, cnc, 800.0))
    assert cnc.model("Feed.Override") == 50.0
    await cnc_client.get_node(cnc.node_id("Feed.Override")).write_value(ua.Variant(100.0, ua.VariantType.Double))
    await eventually(lambda: _feed_is(cnc_client, cnc, 1600.0))


async def test_setpoints_refuse_values_outside_their_eurange(cnc: CncMachine, cnc_client: Client) -> None:
    """One Write with an in-range and an out-of-range setpoint: each gets its own status, in order."""
    writes = [("Feed.Override", 180.0), ("Feed.Override", 120.0), ("Feed.Override", -1.0)]
    params = ua.WriteParameters()
    for path, v in writes:
        wv = ua.WriteValue()
        wv.NodeId = ua.NodeId.from_string(cnc.node_id(path))
        wv.AttributeId = ua.AttributeIds.Value
        wv.Value = ua.DataValue(ua.Variant(v, ua.VariantType.Double))
        params.NodesToWrite.append(wv)
    results = await cnc_client.uaclient.write(params)
    assert [r.name for r in results] == ["BadOutOfRange", "Good", "BadOutOfRange"]
    assert await read(cnc_client, cnc, "Feed.Override") == 120.0
    with pytest.raises(UaStatusCodeError) as e:
        await cnc_client.get_node(cnc.node_id("Feed.Override")).write_value(ua.Variant(150.5, ua.VariantType.Double))
    assert e.value.code == ua.StatusCodes.BadOutOfRange


async def _feed_is(client: Client, cnc: CncMachine, value: float) -> bool:
    return await read(client, cnc, "Feed.Rate") == value


async def test_methods_start_program_reset_counters_acknowledge(cnc: CncMachine, cnc_client: Client) -> None:
    obj = cnc_client.get_node(cnc.node_id("CNC01"))
    ns = cnc.namespace_index
    await obj.call_method(f"{ns}:StartProgram", "O3300_SHAFT")
    await eventually(lambda: _equals(cnc_client, cnc, "Program.Name", "O3300_SHAFT"))
    assert await read(cnc_client, cnc, "Program.PartCount") > 50  # seeded start value
    await obj.call_method(f"{ns}:ResetCounters")
    await eventually(lambda: _below(cnc_client, cnc, "Program.PartCount", 2))

    cnc.raise_alarm(2001, "Coolant level low")
    await eventually(lambda: _equals(cnc_client, cnc, "Alarm.Active", True))
    assert await read(cnc_client, cnc, "Alarm.Code") == 2001
    assert await read(cnc_client, cnc, "Program.ExecutionState") == "INTERRUPTED"
    with pytest.raises(UaStatusCodeError):  # cannot start while in alarm
        await obj.call_method(f"{ns}:StartProgram", "O1001_FLANGE")
    await obj.call_method(f"{ns}:AcknowledgeAlarm")
    await eventually(lambda: _equals(cnc_client, cnc, "Alarm.Active", False))
    assert await read(cnc_client, cnc, "Alarm.Message") == ""
    tool = await read(cnc_client, cnc, "Tool.Number")
    await obj.call_method(f"{ns}:ChangeTool")
    await eventually(lambda: _equals(cnc_client, cnc, "Tool.Number", tool % 24 + 1))


async def _equals(client: Client, machine: Any, path: str, value: Any) -> bool:
    return await read(client, machine, path) == value


async def _below(client: Client, machine: Any, path: str, value: Any) -> bool:
    return await read(client, machine, path) < value


@pytest.mark.slow
async def test_operation_limits_are_advertised_and_enforced(
    cnc: CncMachine, cnc_client: Client, imm: ImmMachine
) -> None:
    limit_node = cnc_client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead))  # type: ignore[arg-type]  # asyncua int subtype
    assert await limit_node.read_value() == 50
    nodes = [cnc_client.get_node(cnc.node_id("Spindle.Speed"))] * 51
    with pytest.raises(BadTooManyOperations):
        await cnc_client.read_values(nodes)
    values = await cnc_client.read_values(nodes[:50]) + await cnc_client.read_values(nodes[50:])
    assert len(values) == 51
    # limits are per server: the IMM in the same process keeps the default 1000
    async with Client(imm.endpoint, timeout=10) as client:
        assert len(await client.read_values([client.get_node(imm.node_id("Mould.Temperature"))] * 51)) == 51
        with pytest.raises(BadTooManyOperations):
            await client.read_values([client.get_node(imm.node_id("Mould.Temperature"))] * 1001)


async def test_remove_and_restore_node(cnc: CncMachine, cnc_client: Client) -> None:
    await cnc.remove_node("Coolant.Temperature")
    node = cnc_client.get_node(cnc.node_id("Coolant.Temperature"))
    with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
        await node.read_value()
    await cnc.restore_node("Coolant.Temperature")
    first = await node.read_value()
    await eventually(lambda: _differs(node, first))
    ns = cnc.namespace_index
    again = await cnc_client.nodes.objects.get_child([f"{ns}:CNC01", f"{ns}:Coolant", f"{ns}:Temperature"])
    assert again.nodeid == node.nodeid
    assert (await (await node.get_child("0:EngineeringUnits")).read_value()).DisplayName.Text == "°C"


async def _differs(node: Any, value: Any) -> bool:
    return await node.read_value() != value


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_control_object_methods(imm: ImmMachine) -> None:
    async with Client(imm.endpoint, timeout=10) as client:
        ctl_ns = await client.get_namespace_index("urn:aas-gateway:sim:control")
        sim = await client.nodes.objects.get_child(f"{ctl_ns}:Simulator")
        total = client.get_node(ua.NodeId("Simulator.TotalChanges", ctl_ns))  # type: ignore[arg-type]  # asyncua str subtype
        first_total = await total.read_value()
        await eventually(lambda: _differs(total, first_total))
        path = "Barrel.Zone1.Temperature"

        await sim.call_method(f"{ctl_ns}:Freeze", path, True)
        count = imm.changes[path]
        ticks = imm.ticks
        await eventually(lambda: imm.ticks >= ticks + 5)
        assert imm.changes[path] == count
        await sim.call_method(f"{ctl_ns}:Freeze", path, False)
        await eventually(lambda: imm.changes[path] > count)

        await sim.call_method(f"{ctl_ns}:Pause")
        assert imm.paused
        ticks = imm.ticks
        await asyncio.sleep(0.3)  # proving absence of progress needs some elapsed time
        assert imm.ticks == ticks
        await sim.call_method(f"{ctl_ns}:Resume")
        await eventually(lambda: imm.ticks > ticks)

        await sim.call_method(f"{ctl_ns}:RemoveNode", path)
        with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
            await client.get_node(imm.node_id(path)).read_value()
        await sim.call_method(f"{ctl_ns}:RestoreNode", path)
        assert isinstance(await client.get_node(imm.node_id(path)).read_value(), float)
        with pytest.raises(UaStatusCodeError):
            await sim.call_method(f"{ctl_ns}:Freeze", "No.Such.Path", True)


async def test_setpoint_write_over_opcua_changes_the_heating_target(imm: ImmMachine) -> None:
    async with Client(imm.endpoint, timeout=10) as client:
        await client.get_node(imm.node_id("Barrel.Zone3.Setpoint")).write_value(
            ua.Variant(150.0, ua.VariantType.Double))
        await eventually(lambda: imm.model("Barrel.Zone3.Setpoint") == 150.0)
        # fast-forward the same model (paused loop) instead of waiting minutes of wall time
        imm.pause()
        try:
            for _ in range(1500):
                imm.tick()
        finally:
            imm.resume()
        assert abs(imm.values["Barrel.Zone3.Temperature"] - 150.0) < 2.0
        assert await client.get_node(imm.node_id("Barrel.Zone3.Setpoint")).read_value() == 150.0


@pytest.mark.slow
async def test_scale_10000_variables_change_at_configured_rate() -> None:
    scale = ScaleMachine(n=10_000, rate_hz=1.0)
    cpu0 = time.process_time()  # CPU, not wall time: a loaded box stretches the latter, not the work
    await scale.start()
    try:
        assert time.process_time() - cpu0 < 20.0  # 10,000 nodes added in bulk, not one by one
        async with Client(scale.endpoint, timeout=10) as client:
            assert await client.get_node(scale.node_id("Vars.V09999")).read_value() is not None
        # the rate is per simulated second: an overloaded simulator slows its clock down rather than burst
        # (simulators/server.py), so the count per tick is the contract, whatever the box's load
        ticks0, changes0 = scale.ticks, scale.total_changes
        await eventually(lambda: scale.ticks - ticks0 >= 20, timeout=60.0)
        rate = (scale.total_changes - changes0) / ((scale.ticks - ticks0) * scale.tick_s)
        assert rate == pytest.approx(10_000, rel=0.02), rate  # nominal 10,000 updates per simulated second
        assert scale.cpu_seconds > 0 and scale.updates_written >= 10_000
    finally:
        await scale.stop()


@pytest.mark.slow
async def test_stop_start_same_port_keeps_node_ids_and_state(imm: ImmMachine) -> None:
    """Runs last in this module: it restarts the shared IMM server."""
    endpoint, node_id = imm.endpoint, imm.node_id("Counters.Shots")
    ns_before = imm.namespace_index
    async with Client(endpoint, timeout=10) as client:
        shots = await client.get_node(node_id).read_value()
        await imm.stop()
        with pytest.raises((ConnectionError, TimeoutError, asyncio.TimeoutError, UaStatusCodeError)):
            await client.get_node(node_id).read_value()
    ticks = imm.ticks
    await imm.start()
    assert imm.endpoint == endpoint and imm.namespace_index == ns_before
    async with Client(endpoint, timeout=10) as client:
        node = client.get_node(node_id)
        assert await node.read_value() >= shots  # physics state kept, counters not reset
        await eventually(lambda: imm.ticks > ticks)
        assert (await (await node.get_child("0:EngineeringUnits")).read_value()).UnitId == unit_id("H87")
        assert await client.get_node(imm.node_id("Barrel.Zone3.Setpoint")).read_value() == 150.0
