"""PATCH $value writes to a real simulated machine, refusals come back as Results, every attempt is audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from asyncua import Client

from connectors.base import ConnectionState
from gateway.api.ids import encode_id
from gateway.app import Gateway
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers, asset, gateway_config

pytestmark = pytest.mark.slow  # writes through a gateway to a simulator over real sockets

POINTS = {"Feed.Override": "xs:double", "Spindle.Speed": "xs:double", "Tool.Number": "xs:int"}
AAS_ID = "urn:test:aas:CNC01"
SM_ID = "urn:test:aas:CNC01:submodels:OperationalData"


def cnc_asset(cnc: CncMachine, writable: set[str]) -> dict[str, Any]:
    a = asset("CNC01", cnc, POINTS)
    for p in a["points"]:
        p["writable"] = p["path"] in writable
    return a


def element_url(api: str, path: str, via_shell: bool = False) -> str:
    prefix = f"{api}/shells/{encode_id(AAS_ID)}" if via_shell else api
    return f"{prefix}/submodels/{encode_id(SM_ID)}/submodel-elements/{path}/$value"


def audit_records(gw: Gateway) -> list[dict[str, Any]]:
    path = gw.audit.path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def read_node(cnc: CncMachine, path: str) -> Any:
    async with Client(cnc.endpoint) as c:
        return await c.get_node(cnc.node_id(path)).read_value()


def result_text(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"messages"} and body["messages"][0]["messageType"] == "Error"
    return str(body["messages"][0]["text"])


async def test_patch_value_writes_to_the_machine_and_the_model_follows(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=1)
    cfg = gateway_config(tmp_path, cnc_asset(cnc, {"Feed.Override", "Spindle.Speed"}), api=True)
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10, headers=api_key_headers(cfg)) as http:
        assert gw.api_url is not None
        url = element_url(gw.api_url, "Feed.Override")

        async def model_value() -> Any:
            r = await http.get(url)
            return r.json().get("Override") if r.status_code == 200 else None

        await wait_for(lambda: _equals(model_value, 100.0), message="initial Feed.Override in the model")

        # the named form, as GET $value returns it
        r = await http.patch(url, json={"Override": 42.5})
        assert r.status_code == 204, r.text
        assert await read_node(cnc, "Feed.Override") == 42.5
        await wait_for(lambda: _equals(model_value, 42.5), message="written value back through the subscription")

        # the bare value, through the shell superpath
        r = await http.patch(element_url(gw.api_url, "Feed.Override", via_shell=True), json=55)
        assert r.status_code == 204, r.text
        assert await read_node(cnc, "Feed.Override") == 55.0
        await wait_for(lambda: _equals(model_value, 55.0), message="second write in the model")
        # the live Property carries the machine's source timestamp, not one the gateway made up
        normal = (await http.get(url.removesuffix("/$value"))).json()
        assert any(q["type"] == "SourceTimestamp" and q.get("value") for q in normal["qualifiers"])

        records = await wait_for(lambda: len(audit_records(gw)) >= 2 and audit_records(gw), message="audit")
        first, second = records[:2]
        assert first["action"] == "write" and first["result"] == "ok"
        assert first["target"] == f"{SM_ID}#Feed.Override"
        assert (first["old"], first["new"]) == (100.0, 42.5)
        assert (second["old"], second["new"]) == (42.5, 55.0)
        assert first["actor"].startswith("apikey:") and first["actor"].endswith("/test-operator")
        assert first["source"] == "127.0.0.1"

        # a reader may look but not write: refused before anything reaches the machine
        r = await http.patch(url, json=60.0, headers=api_key_headers(cfg, "reader"))
        assert r.status_code == 403, r.text
        assert await read_node(cnc, "Feed.Override") == 55.0


async def test_refusals_are_results_and_audited(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=1)
    cfg = gateway_config(tmp_path, cnc_asset(cnc, {"Feed.Override", "Spindle.Speed"}), api=True)
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10, headers=api_key_headers(cfg)) as http:
        assert gw.api_url is not None
        source = gw.sources["CNC01"]
        await wait_for(lambda: source.health().state == ConnectionState.CONNECTED, message="connected")

        # not configured writable
        r = await http.patch(element_url(gw.api_url, "Tool.Number"), json={"Number": 7})
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        assert "not writable" in result_text(r)
        # not a point at all (the status submodel) and not there at all
        status_sm = encode_id("urn:test:aas:CNC01:submodels:GatewayStatus")
        r = await http.patch(f"{gw.api_url}/submodels/{status_sm}/submodel-elements/ConnectionState/$value",
                             json="connected")
        assert r.status_code == 405
        r = await http.patch(element_url(gw.api_url, "Feed.Nope"), json=1.0)
        assert r.status_code == 404
        # wrong type: the text names the expected valueType
        r = await http.patch(element_url(gw.api_url, "Feed.Override"), json="fast")
        assert r.status_code == 400 and "xs:double" in result_text(r)
        r = await http.patch(element_url(gw.api_url, "Feed.Override"), json={"Wrong": 1.0})
        assert r.status_code == 400
        r = await http.patch(element_url(gw.api_url, "Feed.Override"), content=b"{not json",
                             headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        # configured writable here, read-only on the machine: the machine's status code comes back
        r = await http.patch(element_url(gw.api_url, "Spindle.Speed"), json=1000.0)
        assert r.status_code == 502, r.text
        assert r.json()["messages"][0]["code"] == "BadUserAccessDenied"
        assert "BadUserAccessDenied" in result_text(r)
        # outside the setpoint's EURange (0..150 %): the machine refuses, as a PLC does
        r = await http.patch(element_url(gw.api_url, "Feed.Override"), json=180.0)
        assert r.status_code == 502 and r.json()["messages"][0]["code"] == "BadOutOfRange", r.text
        assert await read_node(cnc, "Feed.Override") == 100.0  # nothing of the above reached the machine

        # machine down
        await cnc.stop()
        await wait_for(lambda: source.health().state == ConnectionState.DISCONNECTED, message="disconnected")
        r = await http.patch(element_url(gw.api_url, "Feed.Override"), json=80.0)
        assert r.status_code == 502
        assert r.json()["messages"][0]["code"] == "BadNotConnected" and "BadNotConnected" in result_text(r)

        records = audit_records(gw)
        by_result = [(rec["target"].split("#")[1], rec["result"]) for rec in records]
        assert by_result == [
            ("Tool.Number", "denied"),
            ("ConnectionState", "denied"),
            ("Feed.Nope", "error: not_found"),
            ("Feed.Override", "error: bad_value"),
            ("Feed.Override", "error: bad_value"),
            ("Feed.Override", "error: bad_request"),
            ("Spindle.Speed", "denied"),
            ("Feed.Override", "error: BadOutOfRange"),
            ("Feed.Override", "error: BadNotConnected"),
        ]
        down = records[-1]
        assert down["new"] == 80.0 and down["old"] == 100.0 and "BadNotConnected" in down["detail"]
        assert records[5]["new"] == "{not json" and "not JSON" in records[5]["detail"]
        denied = records[6]
        assert denied["new"] == 1000.0 and "BadUserAccessDenied" in denied["detail"]
        assert all(rec["actor"].startswith("apikey:") and rec["source"] == "127.0.0.1" for rec in records)


async def _equals(get: Any, expected: Any) -> bool:
    return bool(await get() == expected)


async def test_a_read_only_source_answers_405(tmp_path: Path) -> None:
    """MQTT sources only subscribe: a point marked writable there still cannot be written."""
    mqtt_asset = {
        "id_short": "TH01", "id": "urn:test:aas:TH01", "global_asset_id": "urn:test:asset:TH01",
        "source": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port()}, "topic": "sensors/th"},
        "points": [{"pointer": "/temp", "path": "Temperature", "type": "xs:double", "writable": True}],
    }
    cfg = gateway_config(tmp_path, mqtt_asset, api=True)
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10, headers=api_key_headers(cfg)) as http:
        sm = encode_id("urn:test:aas:TH01:submodels:OperationalData")
        r = await http.patch(f"{gw.api_url}/submodels/{sm}/submodel-elements/Temperature/$value", json=21.5)
        assert r.status_code == 405 and "does not support writes" in result_text(r)
        (rec,) = audit_records(gw)
        assert rec["result"] == "error: unsupported" and rec["new"] == 21.5


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
