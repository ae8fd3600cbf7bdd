"""Every OPC UA built-in scalar type, arrays and a vendor structure from node-opcua, end to end.

One node-opcua server and one gateway serve the whole module (values.json says what the server
holds); each case reads back its point from the historian and the AAS REST API: the right element
(Property with its xs valueType, MultiLanguageProperty, SubmodelElementList, SubmodelElementCollection
for the structure, decoded with the server's DataTypeDefinition) and the right ValueOnly value, never
Python repr text. The point's `type` is the OPC UA name an integrator
reads off the server.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from aas_models.ids import submodel_id
from connectors import status as st
from gateway.api.ids import encode_id
from gateway.app import Gateway
from tests.conftest import wait_for
from tests.interop.conftest import SUBMODEL, interop_asset, interop_config, stored
from tests.interop.nodeopcua_peer import VALUES, NodeOpcuaServer

# slow: a node-opcua server in its own process
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCALARS: dict[str, Any] = VALUES["scalars"]
ARRAYS: dict[str, list[Any]] = VALUES["arrays"]

# OPC UA type -> the valueType of its Property (issue 9 point 4); LocalizedText is no Property
VALUE_TYPES = {
    "Boolean": "xs:boolean", "SByte": "xs:byte", "Byte": "xs:unsignedByte", "Int16": "xs:short",
    "UInt16": "xs:unsignedShort", "Int32": "xs:int", "UInt32": "xs:unsignedInt", "Int64": "xs:long",
    "UInt64": "xs:unsignedLong", "Float": "xs:float", "Double": "xs:double", "String": "xs:string",
    "DateTime": "xs:dateTime", "Guid": "xs:string", "ByteString": "xs:base64Binary", "XmlElement": "xs:string",
    "NodeId": "xs:string", "ExpandedNodeId": "xs:string", "StatusCode": "xs:unsignedInt",
    "QualifiedName": "xs:string",
}


def expected_value_only(type_name: str, v: Any) -> Any:
    """The ValueOnly (JSON) form of a values.json value of `type_name`."""
    if type_name in ("Int64", "UInt64"):
        return int(v)
    if type_name == "Guid":
        return v.lower()
    if type_name == "QualifiedName":
        return f"{v['namespaceIndex']}:{v['name']}"
    if type_name == "LocalizedText":
        return [{v["locale"]: v["text"]}]
    return v  # ByteString is base64 text in both, the rest is JSON already


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcuaServer]:
    srv = NodeOpcuaServer(tmp_path_factory.mktemp("nodeopcua-types") / "pki", counters=0)
    srv.start()
    yield srv
    srv.stop()


def array_item(name: str) -> str:
    return "Double" if name == "Empty" else name


@dataclass
class Collected:
    gw: Gateway
    http: httpx.AsyncClient

    async def point(self, asset: str, node: str) -> tuple[Any, dict[str, Any], list[Any]]:
        """A point's $value (the bare value), its element and its stored rows."""
        assert self.gw.api_url is not None
        sm = encode_id(submodel_id(f"urn:test:aas:{asset}", SUBMODEL))
        url = f"{self.gw.api_url}/submodels/{sm}/submodel-elements/{node}"
        rows = await stored(self.gw, asset, node)
        assert any(r.status == st.GOOD for r in rows), f"no good sample of {node} stored: {rows[-3:]}"
        element = (await self.http.get(url)).json()
        r = await self.http.get(f"{url}/$value")
        assert r.status_code == 200, r.text
        body = r.json()
        leaf = node.rsplit(".", 1)[-1]
        value = body[leaf] if isinstance(body, dict) and set(body) == {leaf} else body  # named or bare form
        return value, element, rows


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def collected(server: NodeOpcuaServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Collected]:
    """One gateway for the module: every type by subscription (NODE01), the structure by polling too (NODE02)."""
    points = {f"Scalars.{t}": t for t in SCALARS}
    points |= {f"Arrays.{name}": f"{array_item(name)}[]" for name in ARRAYS}
    points["Struct.Status"] = "Structure"
    tmp = tmp_path_factory.mktemp("gateway-types")
    cfg = interop_config(tmp, interop_asset("NODE01", server, points),
                         interop_asset("NODE02", server, {"Struct.Status": "Structure"}, mode="poll",
                                       publishing_interval_ms=200), api=True)
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10) as http:
        async def all_stored() -> bool:  # a row of any status: each test then asserts on its own point
            for a, paths in (("NODE01", list(points)), ("NODE02", ["Struct.Status"])):
                for path in paths:
                    if not await stored(gw, a, path):
                        return False
            return True

        with contextlib.suppress(pytest.fail.Exception):  # a point that never arrives fails its own test
            await wait_for(all_stored, timeout=30, message="a sample of every point")
        yield Collected(gw, http)


def assert_plausible_times(server: NodeOpcuaServer, rows: list[Any]) -> None:
    """node-opcua stamps source and server time itself (when it set the value), with picoseconds: both
    are kept and both are real, i.e. between the server's start and the gateway receiving the value."""
    slack = 5 * 10**9  # clock readings of two processes
    for r in rows:
        assert r.source_ts is not None and r.server_ts is not None, r
        for ts in (r.source_ts, r.server_ts):
            assert server.started_ns - slack <= ts <= r.recv_ts + slack, f"garbled timestamp: {r}"


@pytest.mark.parametrize("type_name", list(SCALARS))
async def test_every_built_in_scalar_type(server: NodeOpcuaServer, collected: Collected, type_name: str) -> None:
    value, element, rows = await collected.point("NODE01", f"Scalars.{type_name}")
    good = [r for r in rows if r.status == st.GOOD]
    assert len(good) == 1, f"one value offered, {len(good)} stored"
    assert_plausible_times(server, good)
    expected = expected_value_only(type_name, SCALARS[type_name])
    assert "(" not in str(value), f"Python repr text: {value!r}"  # no value in values.json has a parenthesis
    if type_name == "LocalizedText":
        assert element["modelType"] == "MultiLanguageProperty", element
        assert value == expected
        assert element["value"] == [{"language": "de-DE", "text": "Drehzahl"}], "the locale is kept"
        return
    assert element["modelType"] == "Property" and element["valueType"] == VALUE_TYPES[type_name], element
    if type_name == "DateTime":
        assert datetime.fromisoformat(value.replace("Z", "+00:00")) == datetime.fromisoformat(
            expected.replace("Z", "+00:00"))
    elif type_name == "Guid":
        assert str(value).lower() == expected
    elif type_name == "ByteString":
        assert base64.b64decode(value) == base64.b64decode(expected)
    else:
        assert value == expected and type(value) is type(expected), (value, expected)
    if type_name == "UInt64":
        assert good[0].value == 2**64 - 1, "stored losslessly and read back"


@pytest.mark.parametrize("name", list(ARRAYS))
async def test_arrays_become_submodel_element_lists(server: NodeOpcuaServer, collected: Collected, name: str) -> None:
    item = array_item(name)
    value, element, rows = await collected.point("NODE01", f"Arrays.{name}")
    assert element["modelType"] == "SubmodelElementList", element
    expected = [expected_value_only(item, v) for v in ARRAYS[name]]
    assert value == expected
    assert len(element.get("value", [])) == len(expected)
    assert_plausible_times(server, [r for r in rows if r.status == st.GOOD])


@pytest.mark.parametrize("asset", ["NODE01", "NODE02"], ids=["subscription", "poll"])
async def test_vendor_structure_becomes_a_collection(server: NodeOpcuaServer, collected: Collected, asset: str) -> None:
    # MachineStatusDataType is defined only in the server's vendor namespace (vendor-nodeset.xml): the
    # gateway can decode it only from the DataTypeDefinition it reads from the server
    value, element, rows = await collected.point(asset, "Struct.Status")
    assert element["modelType"] == "SubmodelElementCollection", element
    assert value == VALUES["structure"]
    children = {e["idShort"]: e for e in element["value"]}
    assert children["Temperature"]["valueType"] == "xs:double"
    assert children["PartCount"]["valueType"] == "xs:unsignedInt"
    assert children["Tool"]["modelType"] == "SubmodelElementCollection"
    good = [r for r in rows if r.status == st.GOOD]
    assert len(good) == 1
    assert_plausible_times(server, good)
