"""Structures and rich types against a real OPC UA server: failures stay local, restarts reload, types change.

The type-zoo simulator encodes its structure bodies by hand, so even in this process asyncua's
registry knows nothing of its types: the gateway decodes with the definitions it reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asyncua import ua

from aas_models.valueonly import to_value
from connectors import status as st
from connectors.base import ConnectionState
from gateway.app import Gateway
from simulators.typezoo import TypeZoo
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on the type-zoo simulator; a server restart

STRUCTS = {"Struct.Tool": "Structure", "Struct.Spindle": "Structure", "Array.Tools": "Structure[]",
           "Live.Tool": "Structure", "Scalar.Variant": "Variant", "Live.Trend": "Double[]",
           "Scalar.LocalizedText": "LocalizedText"}


def _element(gw: Gateway, path: str) -> Any:
    return gw.models["ZOO01"].properties[f"ZOO01/OperationalData/{path}"]


async def _latest(gw: Gateway, path: str) -> Any:
    await gw.historian.flush()
    rows = await gw.historian.query("ZOO01", "OperationalData", path)
    return rows[-1] if rows else None


async def test_a_type_without_definition_affects_only_its_points(machines: Any, tmp_path: Path) -> None:
    zoo = await machines(TypeZoo)
    assert zoo._server is not None
    # the server loses ToolData's definition (as a server without 1.04 DataTypeDefinitions would lack it)
    await zoo._server.delete_nodes([zoo._server.get_node(zoo.data_types["ToolData"])])
    cfg = gateway_config(tmp_path, asset("ZOO01", zoo, STRUCTS))
    async with Gateway(cfg) as gw:
        src = gw.sources["ZOO01"]
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, message="connected")

        async def tool_rows() -> list[Any] | None:
            await gw.historian.flush()
            rows = await gw.historian.query("ZOO01", "OperationalData", "Struct.Tool")
            return rows if len(rows) >= 2 else None
        rows = sorted(await wait_for(tool_rows, message="Struct.Tool: a status and a value"), key=lambda r: r.seq)
        # first the verdict on the type, then the value, kept whole and Uncertain
        assert rows[0].status == ua.StatusCodes.BadDataTypeIdUnknown and rows[0].value is None
        assert rows[-1].status == 0x40000000
        assert set(rows[-1].value) == {"typeId", "body"} and rows[-1].value["typeId"].endswith(
            zoo.encodings["ToolData"].to_string().split(";")[-1])
        assert to_value(_element(gw, "Struct.Tool")) == rows[-1].value
        spindle = await wait_for(lambda: _latest(gw, "Struct.Spindle"), message="Struct.Spindle")
        assert spindle.status == st.GOOD and spindle.value == {"Speed": 8000.0, "Torque": 12.5, "Alarm": None}
        trend = await wait_for(lambda: _latest(gw, "Live.Trend"), message="Live.Trend")
        assert trend.status == st.GOOD and isinstance(trend.value, list)


async def test_poll_mode_and_a_server_restart_keep_decoding(machines: Any, tmp_path: Path) -> None:
    zoo = await machines(TypeZoo)
    cfg = gateway_config(tmp_path, asset("ZOO01", zoo, STRUCTS, mode="poll", publishing_interval_ms=100))
    async with Gateway(cfg) as gw:
        src = gw.sources["ZOO01"]

        async def decoded_tool(after: int) -> Any:
            await gw.historian.flush()
            rows = await gw.historian.query("ZOO01", "OperationalData", "Live.Tool")
            good = [r for r in rows if r.seq > after and r.status == st.GOOD and "Wear" in (r.value or {})]
            return good[-1] if good else None
        first = await wait_for(lambda: decoded_tool(0), message="a decoded Live.Tool")
        assert first.value["Geometry"] == {"Radius": 7.0, "Angle": 30.0}
        await zoo.stop()
        await wait_for(lambda: src.health().state == ConnectionState.DISCONNECTED, message="loss seen")
        marker = (await _latest(gw, "Live.Tool")).seq
        await zoo.start()  # a fresh server: the types are defined anew, their encodings may differ
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, timeout=30, message="reconnected")
        again = await wait_for(lambda: decoded_tool(marker), message="Live.Tool decoded after the restart")
        assert again.value["Name"] == "Mill D3"
        live = to_value(_element(gw, "Live.Tool"))
        assert live["Name"] == "Mill D3" and live["Label"] == [{"de-DE": "Fräser 3"}]


async def test_a_variant_that_changes_type_rebuilds_its_collection(machines: Any, tmp_path: Path) -> None:
    zoo = await machines(TypeZoo)
    cfg = gateway_config(tmp_path, asset("ZOO01", zoo, STRUCTS))
    async with Gateway(cfg) as gw:
        el = _element(gw, "Scalar.Variant")
        await wait_for(lambda: to_value(el) == {"Type": "Int32", "Value": 7}, message="the Int32 variant")
        assert el.get_referable("Value").value_type.__name__ == "Int"
        await zoo.set_variant(ua.Variant(["a", "b"], ua.VariantType.String))
        await wait_for(lambda: to_value(el) == {"Type": "String[]", "Value": ["a", "b"]}, message="a String array")
        assert type(el.get_referable("Value")).__name__ == "SubmodelElementList"
        text = _element(gw, "Scalar.LocalizedText")
        await wait_for(lambda: to_value(text) == [{"de-DE": "Bereit"}], message="the LocalizedText")
        assert zoo._server is not None
        await zoo._server.write_attribute_value(ua.NodeId("Scalar.LocalizedText", zoo.namespace_index),  # type: ignore[arg-type]  # asyncua str subtype
                                                ua.DataValue(ua.Variant(ua.LocalizedText("Ready", ""))))
        await wait_for(lambda: to_value(text) == [{"und": "Ready"}], message="a text without locale")
