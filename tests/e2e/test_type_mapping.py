"""Every OPC UA built-in type, arrays and vendor structures, end to end over real sockets.

A type-zoo simulator runs as its own process (so nothing it registers in asyncua can help the
gateway decode), the gateway collects every variable by subscription, and each value is checked
where a user meets it: REST `$value`, the element (Normal), `$metadata`, `$path`, paging, the
history route, the historian read back, the MQTT payload (Mosquitto) and the InfluxDB write
(VictoriaMetrics accepted every line). aas-test-engines checks the served model (check_file on
/serialization, check_server's Submodel Service suite on the zoo's submodel).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import paho.mqtt.client as mqtt
import pytest

from aas_models.datatypes import DEFAULT_LANGUAGE
from connectors import status as st
from connectors.mqtt.topics import point_topic
from gateway.api.ids import encode_id
from gateway.app import Gateway
from gateway.config import parse_config
from simulators.typezoo import OPAQUE_ENCODING, SERIAL, tool
from tests.aas_models.test_build_export import _check_file
from tests.api.test_conformance import PREFIX, _problems
from tests.conftest import wait_for
from tests.influx.victoria import VictoriaMetrics
from tests.integration.conftest import api_key_headers
from tests.mqtt.broker import Broker

pytestmark = pytest.mark.slow  # the type-zoo simulator in its own process and a gateway, end to end

REPO = Path(__file__).resolve().parents[2]
T0_TEXT = "2026-01-02T03:04:05.123456+00:00"


def _tool_json(i: int, wear: float = 12.5) -> dict[str, Any]:
    t = tool(i, wear)
    return {"Id": i, "Name": t["Name"], "Length": t["Length"], "Wear": wear, "Active": t["Active"], "State": 1,
            "Label": [{"de-DE": f"Fräser {i}"}], "Geometry": t["Geometry"], "Offsets": t["Offsets"],
            "LastChange": T0_TEXT, "Signature": base64.b64encode(t["Signature"]).decode(), "Serial": str(SERIAL)}


# simulator path (= idShortPath) -> (config type, the element's $value)
POINTS: dict[str, tuple[str, Any]] = {
    "Scalar.Boolean": ("Boolean", True),
    "Scalar.SByte": ("SByte", -100),
    "Scalar.Byte": ("Byte", 200),
    "Scalar.Int16": ("Int16", -30000),
    "Scalar.UInt16": ("UInt16", 60000),
    "Scalar.Int32": ("Int32", -2_000_000_000),
    "Scalar.UInt32": ("UInt32", 4_000_000_000),
    "Scalar.Int64": ("Int64", -9_000_000_000_000_000_000),
    "Scalar.UInt64": ("UInt64", 2**64 - 1),
    "Scalar.Float": ("Float", 1.5),
    "Scalar.Double": ("Double", 3.25),
    "Scalar.String": ("String", "Läuft"),
    "Scalar.DateTime": ("DateTime", T0_TEXT),
    "Scalar.Guid": ("Guid", str(SERIAL)),
    "Scalar.ByteString": ("ByteString", "AAEC/w=="),
    "Scalar.XmlElement": ("XmlElement", '<Recipe id="7"/>'),
    "Scalar.NodeId": ("NodeId", "i=85"),
    "Scalar.ExpandedNodeId": ("ExpandedNodeId", "nsu=urn:vendor:types;i=5001"),
    "Scalar.StatusCode": ("StatusCode", 0x80340000),
    "Scalar.QualifiedName": ("QualifiedName", "2:Tool"),
    "Scalar.LocalizedText": ("LocalizedText", [{"de-DE": "Bereit"}]),
    "Scalar.DataValue": ("DataValue", {"Value": {"Type": "Double", "Value": 21.5}, "StatusCode": 0,
                                       "SourceTimestamp": T0_TEXT}),
    "Scalar.DiagnosticInfo": ("DiagnosticInfo", {"SymbolicId": 1, "AdditionalInfo": "trace",
                                                 "InnerStatusCode": 0x80000000}),
    "Scalar.Variant": ("BaseDataType", {"Type": "Int32", "Value": 7}),
    "Array.Boolean": ("Boolean[]", [True, False, True]),
    "Array.Int32": ("Int32[]", [1, -2, 3]),
    "Array.Double": ("Double[]", [0.5, 1.5, 2.5]),
    "Array.String": ("String[]", ["a", "b", "Ü"]),
    "Array.ByteString": ("ByteString[]", ["AQ==", "AgM="]),
    "Array.Guid": ("Guid[]", [str(SERIAL)]),
    "Array.LocalizedText": ("LocalizedText[]", [[{"en": "One"}], [{"de": "Zwei"}]]),
    "Array.Matrix": ("Double[][]", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    "Array.Tools": ("Structure[]", [_tool_json(1), _tool_json(2)]),
    "Struct.Tool": ("Structure", _tool_json(7)),
    "Struct.Spindle": ("Structure", {"Speed": 8000.0, "Torque": 12.5}),
    "Struct.Measurement": ("ExtensionObject", {"Length": 42.5}),
    "Struct.Opaque": ("Structure", {"typeId": f"ns=2;i={OPAQUE_ENCODING}", "body": "AQID"}),
}
LIVE = {"Live.Counter": "UInt32", "Live.Trend": "Double[]", "Live.Tool": "Structure"}
WRITABLE = {"Scalar.NodeId", "Scalar.Guid"}


def _normal(v: Any) -> Any:
    """JSON values compared as values: date-times by instant (Z or +00:00), nulls in objects left out
    (ValueOnly omits unset elements, the stored sample keeps them as null; a structure field that is
    null is an empty collection, ``{}``, in the model)."""
    if isinstance(v, dict):
        return {k: _normal(x) for k, x in v.items() if x is not None and x != {}}
    if isinstance(v, list):
        return [_normal(x) for x in v]
    if isinstance(v, str) and len(v) >= 20 and v[4] == "-" and v[10] == "T":
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return v
    return v


@pytest.fixture
async def zoo_process() -> AsyncIterator[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "simulators", "--json", "--machine",
                                                "typezoo:0", cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        machine = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert json.loads(await asyncio.wait_for(proc.stdout.readline(), 60)) == {"ready": True}
        yield machine
    finally:
        proc.terminate()
        await proc.wait()


def _config(tmp_path: Path, machine: dict[str, Any], vm: VictoriaMetrics, broker: Broker) -> dict[str, Any]:
    points = [{"node": f"s={p}", "path": p, "type": t, "writable": p in WRITABLE}
              for p, (t, _) in POINTS.items()]
    points += [{"node": f"s={p}", "path": p, "type": t} for p, t in LIVE.items()]
    return {
        "historian": {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 50},
        "api": {"enabled": True, "port": 0, "auth": {"anonymous_read": True}},
        "forwarders": [
            {"name": "tsdb", "sink": {"type": "influxdb", "url": vm.url, "org": "factory", "bucket": "line1",
                                      "token": "t"}},
            {"name": "uns", "sink": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port},
                                     "qos": 1, "topic_prefix": "zoo"}},
        ],
        "assets": [{
            "id_short": "ZOO01", "id": "urn:test:aas:ZOO01", "global_asset_id": "urn:test:asset:ZOO01",
            "source": {"type": "opcua", "endpoint": machine["endpoint"], "namespace": machine["namespace"],
                       "security": {"policy": "None", "mode": "None"}, "publishing_interval_ms": 100,
                       "sampling_interval_ms": 0},
            "points": points,
        }],
    }


class Subscriber:
    def __init__(self, port: int) -> None:
        self.latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="zoo-sub")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("zoo/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
        if "/$" not in m.topic:
            with self._lock:
                self.latest[m.topic] = json.loads(m.payload)

    def get(self, topic: str) -> dict[str, Any] | None:
        with self._lock:
            return self.latest.get(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_every_type_end_to_end(zoo_process: dict[str, Any], tmp_path: Path, victoria: VictoriaMetrics,
                                     mosquitto: Broker) -> None:
    cfg = parse_config(_config(tmp_path, zoo_process, victoria, mosquitto), env={})
    sub = Subscriber(mosquitto.port)
    try:
        async with Gateway(cfg) as gw:
            assert gw.api_url is not None
            pid = {p: f"ZOO01/OperationalData/{p}" for p in [*POINTS, *LIVE]}
            health = gw.sources["ZOO01"].health().points

            def settled() -> bool:
                return all(health[pid[p]].status in (st.GOOD, 0x40000000) for p in [*POINTS, *LIVE])
            await wait_for(settled, timeout=60, message="every zoo point delivering")
            assert health[pid["Struct.Opaque"]].status == 0x40000000, "undecodable structure is Uncertain"
            assert all(health[pid[p]].status == st.GOOD for p in POINTS if p != "Struct.Opaque")

            sm = encode_id("urn:test:aas:ZOO01:submodels:OperationalData")
            base = f"{gw.api_url}/submodels/{sm}/submodel-elements"
            async with httpx.AsyncClient(timeout=30) as http:
                for path, (type_name, expected) in POINTS.items():
                    r = await http.get(f"{base}/{path}/$value")
                    assert r.status_code == 200, (path, r.text)
                    leaf = path.rsplit(".", 1)[1]
                    assert _normal(r.json()) == {leaf: _normal(expected)}, (path, type_name, r.json())

                    async def stored(path: str = path) -> Any:  # the live value can be ahead of the commit
                        r = await http.get(f"{base}/{path}/history")
                        assert r.status_code == 200, (path, r.text)
                        return r.json()["samples"] or None
                    last = (await wait_for(stored, timeout=30, message=f"{path} in the history"))[-1]
                    assert _normal(last["value"]) == _normal(expected), (path, last)
                    want_status = "Uncertain" if path == "Struct.Opaque" else "Good"
                    assert last["status"] == want_status

                    rows = await gw.historian.query("ZOO01", "OperationalData", path)
                    stored = rows[-1].value
                    if type_name == "ByteString":
                        assert stored == base64.b64decode(expected)  # a BLOB, back as bytes
                    else:
                        assert _normal(stored) == _normal(expected), (path, stored)

                    topic = point_topic("zoo", "ZOO01", "OperationalData", path)
                    msg = await wait_for(partial(sub.get, topic), message=f"MQTT message of {path}")
                    assert _normal(msg["value"]) == _normal(expected), (path, msg)

                await _check_elements(http, base)
                await _check_live(gw, http, base)
                await _check_writes(gw, http, base, api_key_headers(cfg, "operator"))

                env = await http.get(f"{gw.api_url}/serialization", headers={"Accept": "application/json"})
                assert env.status_code == 200
                (tmp_path / "served.json").write_bytes(env.content)
                _check_file(tmp_path / "served.json", "json")
                await asyncio.to_thread(_check_server, f"{gw.api_url}/submodels/{sm}",
                                        "SubmodelServiceSpecification/SSP-002")

            async def forwarded() -> bool:
                await gw.historian.flush()
                newest = await gw.historian.max_seq()
                cursors = await gw.historian.cursors()
                return bool(newest) and all(cursors.get(n) == newest for n in ("tsdb", "uns"))
            await wait_for(forwarded, timeout=60, message="both forwarders caught up")
            # everything was accepted but UInt64 max: line protocol's integers are int64 (documented in
            # connectors/influx/lineprotocol.py), so that one sample is a dead letter, with its reason
            dead = await gw.historian.dead_letters()
            assert len(dead) == 1 and "outside the int64 range" in str(dead[0]), dead
            series = {s["metric"]["path"] for s in victoria.export('{__name__="aas_status"}')}
            assert set(POINTS) - {"Scalar.UInt64"} <= series
    finally:
        sub.close()


async def _check_elements(http: httpx.AsyncClient, base: str) -> None:
    tools = (await http.get(f"{base}/Array.Tools")).json()
    assert tools["modelType"] == "SubmodelElementList"
    assert tools["typeValueListElement"] == "SubmodelElementCollection" and len(tools["value"]) == 2
    assert {q["type"]: q["value"] for q in tools["qualifiers"]}["Quality"] == "Good"
    matrix = (await http.get(f"{base}/Array.Matrix")).json()
    assert matrix["typeValueListElement"] == "SubmodelElementList"
    assert matrix["value"][0]["valueTypeListElement"] == "xs:double"
    doubles = (await http.get(f"{base}/Array.Double/$metadata")).json()
    assert doubles["valueTypeListElement"] == "xs:double" and "value" not in doubles
    text = (await http.get(f"{base}/Scalar.LocalizedText")).json()
    assert text["modelType"] == "MultiLanguageProperty" and text["value"] == [{"language": "de-DE", "text": "Bereit"}]
    blob = (await http.get(f"{base}/Scalar.ByteString")).json()
    assert blob["valueType"] == "xs:base64Binary" and blob["value"] == "AAEC/w=="
    code = (await http.get(f"{base}/Scalar.StatusCode")).json()
    assert code["valueType"] == "xs:unsignedInt"
    struct = (await http.get(f"{base}/Struct.Tool")).json()
    kinds = {c["idShort"]: (c["modelType"], c.get("valueType") or c.get("valueTypeListElement"))
             for c in struct["value"]}
    assert kinds == {
        "Id": ("Property", "xs:unsignedInt"), "Name": ("Property", "xs:string"), "Length": ("Property", "xs:double"),
        "Wear": ("Property", "xs:float"), "Active": ("Property", "xs:boolean"), "State": ("Property", "xs:int"),
        "Label": ("MultiLanguageProperty", None), "Geometry": ("SubmodelElementCollection", None),
        "Offsets": ("SubmodelElementList", "xs:double"), "LastChange": ("Property", "xs:dateTime"),
        "Signature": ("Property", "xs:base64Binary"), "Serial": ("Property", "xs:string")}
    paths = (await http.get(f"{base}/Struct.Tool/$path")).json()
    assert "Struct.Tool.Geometry.Radius" in paths and "Struct.Tool.Offsets[2]" in paths
    item = await http.get(f"{base}/{quote('Array.Tools[1].Name')}/$value")
    assert item.status_code == 200 and item.json() == {"Name": "Mill D2"}
    page = (await http.get(f"{base}?limit=1")).json()
    assert len(page["result"]) == 1 and page["paging_metadata"]["cursor"]
    missing = await http.get(f"{base}/{quote('Array.Tools[5]')}/$value")
    assert missing.status_code == 404
    not_a_point = await http.get(f"{base}/Struct.Tool.Name/history")
    assert not_a_point.status_code == 404
    assert DEFAULT_LANGUAGE == "und"


async def _check_live(gw: Gateway, http: httpx.AsyncClient, base: str) -> None:
    """Lists follow the data's length; a structure updates in place; the $value shortcut never serves stale items."""
    async def lengths() -> set[int] | None:
        rows = await gw.historian.query("ZOO01", "OperationalData", "Live.Trend")
        seen = {len(r.value) for r in rows if isinstance(r.value, list)}
        return seen if len(seen) >= 3 else None
    await wait_for(lengths, timeout=30, message="Live.Trend with 3 different lengths")
    for _ in range(5):
        r = await http.get(f"{base}/Live.Trend/$value")
        n = len(r.json()["Trend"])
        last = await http.get(f"{base}/{quote(f'Live.Trend[{n - 1}]')}/$value")
        assert last.status_code in (200, 404)  # the list may shrink between the two requests, never stale
    wear = [r.value["Wear"] for r in await gw.historian.query("ZOO01", "OperationalData", "Live.Tool")]
    assert len(wear) >= 2 and wear == sorted(wear)


async def _check_writes(gw: Gateway, http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
    """NodeId and Guid points are written in their own OPC UA type; arrays and structures are refused clearly."""
    ok = await http.patch(f"{base}/Scalar.NodeId/$value", json="ns=0;i=2253", headers=headers)
    assert ok.status_code == 204, ok.text
    await wait_for(lambda: _value_of(gw, "Scalar.NodeId") == "i=2253", message="the written NodeId read back")
    guid = "00000000-0000-0000-0000-0000000000aa"
    assert (await http.patch(f"{base}/Scalar.Guid/$value", json={"Guid": guid}, headers=headers)).status_code == 204
    await wait_for(lambda: _value_of(gw, "Scalar.Guid") == guid, message="the written Guid read back")
    bad = await http.patch(f"{base}/Scalar.NodeId/$value", json="no node id", headers=headers)
    assert bad.status_code == 400 and "NodeId" in bad.json()["messages"][0]["text"]
    for path in ("Array.Double", "Struct.Tool", "Scalar.LocalizedText"):
        refused = await http.patch(f"{base}/{path}/$value", json=[1.0], headers=headers)
        assert refused.status_code == 405, (path, refused.text)
        assert "cannot be written" in refused.json()["messages"][0]["text"] and refused.headers["Allow"] == "GET, HEAD"


def _value_of(gw: Gateway, path: str) -> Any:
    from aas_models.valueonly import to_value

    return to_value(gw.models["ZOO01"].properties[f"ZOO01/OperationalData/{path}"])


def _check_server(url: str, suite: str) -> None:
    # the checker with its crawler fixed for empty collections (see tests/tools/aas_test_engines_fixed.py)
    proc = subprocess.run([sys.executable, "-m", "tests.tools.aas_test_engines_fixed", "check_server", url,
                           PREFIX + suite, "--output", "json"], capture_output=True, text=True, timeout=300, cwd=REPO)
    report = json.loads(proc.stdout)
    failures = [p for level, p in _problems(report) if level >= 2]
    assert not failures, "\n".join(failures[:20])
    assert proc.returncode == 0, proc.stderr
