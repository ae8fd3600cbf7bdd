"""Connectors register themselves: a connector from outside `connectors/` and `gateway/` runs end to end.

The `tally` connector (tests/config/tally_connector.py) is registered by this module only. It is validated
with its own models (good and bad configs, keyed errors), builds its source through its factory, and its
samples go through the pipeline into the historian and out over the REST API ($value, history, PATCH),
while `gateway/` contains no word of it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from connectors import registry
from connectors.base import WritableSource
from connectors.config_base import StrictModel
from connectors.opcua.config import OpcUaPointConfig, OpcUaSourceConfig
from connectors.registry import ConnectorDescriptor, SinkRole, SourceRole
from gateway.api.ids import encode_id
from gateway.app import Gateway
from gateway.config import ConfigError, parse_config, source_endpoint, source_summary
from tests.config import tally_connector as tally
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers

ROOT = Path(__file__).resolve().parents[2]
SM_ID = "urn:test:aas:T1:submodels:OperationalData"


@pytest.fixture
def tally_registered() -> Iterator[ConnectorDescriptor]:
    registry.register(tally.DESCRIPTOR)
    yield tally.DESCRIPTOR
    registry.unregister(tally.TAG)


def tally_asset(**source: Any) -> dict[str, Any]:
    return {"id_short": "T1", "id": "urn:test:aas:T1", "global_asset_id": "urn:test:asset:T1",
            "source": {"type": "tally", "interval_ms": 20, **source},
            "points": [{"step": 1, "path": "Count", "type": "xs:int", "writable": True},
                       {"step": 5, "path": "Fives", "type": "xs:long", "unit": "pcs"}]}


def issues(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as e:
        parse_config(data, "plant.yaml", env={})
    return [(i.key, i.message) for i in e.value.issues]


def test_gateway_has_no_word_of_the_tally_connector() -> None:
    """The proof is only a proof if the gateway was not taught about the connector."""
    for folder in ("gateway", "connectors"):
        for f in (ROOT / folder).rglob("*.py"):
            assert "tally" not in f.read_text(encoding="utf-8").lower(), f


def test_a_registered_connector_is_validated_with_its_own_models(tally_registered: ConnectorDescriptor) -> None:
    cfg = parse_config({"assets": [tally_asset(start=100)]}, env={})
    (a,) = cfg.assets
    assert isinstance(a.source, tally.TallySourceConfig) and a.source.start == 100
    assert all(isinstance(p, tally.TallyPointConfig) for p in a.points)
    assert [p.source_address() for p in a.points] == ["tally+1", "tally+5"]
    assert a.points[1].type == "xs:long" and a.points[1].unit == "pcs"  # the fields every point has, too
    assert source_endpoint(a.source) == "tally://every-20ms"
    assert source_summary(a.source) == "tally://every-20ms from 100"

    bad = tally_asset(interval_ms=0, colour="red")
    bad["points"][0]["step"] = 0
    del bad["points"][1]["step"]
    bad["points"].append({"step": 2, "path": "Text", "type": "xs:string"})
    bad["points"].append({"node": "ns=2;s=X", "step": 3, "path": "Node", "type": "xs:int"})
    assert sorted(issues({"assets": [bad]})) == sorted([
        ("assets[0].source.interval_ms", "Input should be greater than 0"),
        ("assets[0].source.colour", "unknown key (typo?)"),
        ("assets[0].points[0].step", "Input should be greater than or equal to 1"),
        ("assets[0].points[1].step", "Field required"),
        ("assets[0].points[2].type", "a tally point counts: it needs a numeric type, not xs:string"),
        ("assets[0].points[3].node", "unknown key: 'node' is a point field of opcua sources, not of this one"),
    ])
    # the connector's cross-check of source and points, keyed below the asset
    twice = tally_asset()
    twice["points"][1]["step"] = 1
    assert issues({"assets": [twice]}) == [("assets[0].points[1].step", "step 1 is already counted by points[0]")]


def test_an_unknown_source_type_names_the_known_ones(tally_registered: ConnectorDescriptor) -> None:
    assert issues({"assets": [tally_asset(type="tallly")]}) == [
        ("assets[0].source.type", "unknown source type 'tallly' (known: mqtt, opcua, tally)")]
    sink: dict[str, Any] = {"name": "out", "sink": {"type": "tally"}}  # a source-only connector is no sink
    assert issues({"assets": [tally_asset()], "forwarders": [sink]}) == [
        ("forwarders[0].sink.type", "unknown sink type 'tally' (known: influxdb, mqtt)")]
    del sink["sink"]["type"]
    assert issues({"assets": [tally_asset()], "forwarders": [sink]}) == [
        ("forwarders[0].sink.type", "Field required (one of: influxdb, mqtt)")]


def test_a_point_model_cannot_redefine_the_fields_every_point_has() -> None:
    class PathPoint(tally.TallyPointConfig):
        path: str

    create: Any = tally.create
    role = SourceRole(config=tally.TallySourceConfig, point=PathPoint, create=create, endpoint=tally.endpoint)
    registry.register(ConnectorDescriptor("tally", "Tally", source=role))
    try:
        assert issues({"assets": [tally_asset()]}) == [("assets", "PathPoint redefines path: fields every point has")]
    finally:
        registry.unregister("tally")


def test_without_the_registration_the_type_is_unknown() -> None:
    assert issues({"assets": [tally_asset()]}) == [
        ("assets[0].source.type", "unknown source type 'tally' (known: mqtt, opcua)")]


async def test_samples_of_a_registered_source_reach_historian_and_rest_api(
        tally_registered: ConnectorDescriptor, tmp_path: Path) -> None:
    cfg = parse_config({"historian": {"path": str(tmp_path / "h.sqlite"), "commit_interval_ms": 20},
                        "api": {"port": 0, "auth": {"anonymous_read": True}}, "assets": [tally_asset()]}, env={})
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10, headers=api_key_headers(cfg)) as http:
        assert gw.api_url is not None
        assert isinstance(gw.sources["T1"], tally.TallySource)  # built by the registered factory
        sm = f"{gw.api_url}/submodels/{encode_id(SM_ID)}"

        async def value(path: str) -> Any:
            r = await http.get(f"{sm}/submodel-elements/{path}/$value")
            return r.json()[path] if r.status_code == 200 else None

        # live values through the pipeline into the AAS model; the second point counts five times as fast
        await wait_for(lambda: _at_least(value, "Count", 5), message="Count counting over REST")
        fives = await value("Fives")
        assert fives is not None and fives % 5 == 0 and fives >= 25

        # the historian stored what the source emitted: consecutive counts, nothing lost in between
        await gw.historian.flush()
        r = await http.get(f"{sm}/submodel-elements/Count/history", params={"limit": 100000})
        assert r.status_code == 200, r.text
        counts = [s["value"] for s in r.json()["samples"]]
        assert len(counts) >= 5 and counts == list(range(counts[0], counts[0] + len(counts)))

        # the status submodel says which protocol and where, from the descriptor
        status = (await http.get(f"{gw.api_url}/submodels/{encode_id('urn:test:aas:T1:submodels:GatewayStatus')}"
                                 "/$value")).json()
        assert status["Protocol"] == "tally" and status["Endpoint"] == "tally://every-20ms"

        # the connector declares writes: PATCH $value reaches it, and the count goes on from there
        assert isinstance(gw.sources["T1"], WritableSource)
        r = await http.patch(f"{sm}/submodel-elements/Count/$value", json=1_000_000)
        assert r.status_code == 204, r.text
        await wait_for(lambda: _at_least(value, "Count", 1_000_000), message="the written count over REST")


async def _at_least(value: Any, path: str, n: int) -> bool:
    v = await value(path)
    return v is not None and v >= n


def test_registry_rules() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ConnectorDescriptor("opcua", "Another OPC UA", source=registry.source("opcua")))
    with pytest.raises(ValueError, match="neither a source nor a sink"):
        ConnectorDescriptor("nothing", "Nothing")
    with pytest.raises(ValueError, match="lowercase identifier"):
        ConnectorDescriptor("Mod-Bus", "Modbus", sink=registry.sink("influxdb"))
    with pytest.raises(ValueError, match=r"InfluxConfig.type must be Literal\['tsdb'\]"):
        ConnectorDescriptor("tsdb", "Another InfluxDB", sink=registry.sink("influxdb"))
    role = SourceRole(config=tally.TallySourceConfig, point=tally.TallyPointConfig, create=tally.create,
                      endpoint=tally.endpoint, default=True)
    with pytest.raises(ValueError, match="'opcua' is"):
        registry.register(ConnectorDescriptor("tally", "Tally", source=role))
    with pytest.raises(ValueError, match=r"must derive from connectors\.config_base\.PointFields"):
        ConnectorDescriptor("tally", "Tally", source=SourceRole(
            config=tally.TallySourceConfig, point=StrictModel, create=tally.create, endpoint=tally.endpoint))
    assert registry.find("tally") is None
    assert registry.source_types() == ["mqtt", "opcua"] and registry.sink_types() == ["influxdb", "mqtt"]
    assert registry.default_source_type() == "opcua"
    with pytest.raises(LookupError, match="unknown sink type 'opcua'"):
        registry.sink("opcua")


def test_built_in_descriptors_say_what_their_classes_do() -> None:
    """`writes` matches WritableSource; every model is strict and frozen; the point model is OPC UA's."""
    from connectors.mqtt.source import MqttSource
    from connectors.opcua.source import OpcUaSource

    assert registry.source("opcua").writes and issubclass(OpcUaSource, WritableSource)
    assert not registry.source("mqtt").writes and not issubclass(MqttSource, WritableSource)
    assert registry.source("opcua").config is OpcUaSourceConfig and registry.source("opcua").point is OpcUaPointConfig
    for d in registry.descriptors():
        roles: list[SourceRole[Any, Any] | SinkRole[Any]] = [r for r in (d.source, d.sink) if r is not None]
        for r in roles:
            assert issubclass(r.config, StrictModel) and r.config.model_config.get("frozen")
            assert get_args(r.config.model_fields["type"].annotation) == (d.type,)
        assert d.sample_config is not None and d.sample_config.is_file(), d.type


def test_the_registry_and_config_import_no_protocol_library() -> None:
    """Descriptors import their config models only; asyncua, paho and influxdb_client come with a factory
    (and cryptography with the PKI)."""
    code = ("import sys; from connectors import registry; from gateway.config import load_config; "
            "registry.descriptors(); cfg = load_config('deploy/example-config.yaml'); "
            "heavy = [m for m in ('asyncua', 'paho', 'influxdb_client', 'cryptography') if m in sys.modules]; "
            "assert not heavy, heavy")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_an_installed_package_registers_through_its_entry_point(tmp_path: Path) -> None:
    """A connector shipped as a Python package names its descriptor under the `aas_gateway.connectors`
    entry-point group; a config naming its type finds it without any import in the gateway."""
    dist = tmp_path / "aas_gateway_tally-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aas-gateway-tally\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{registry.ENTRY_POINT_GROUP}]\ntally = tests.config.tally_connector:DESCRIPTOR\n")
    code = ("import sys; from gateway.config import parse_config; from tests.config.test_registry import tally_asset; "
            "cfg = parse_config({'assets': [tally_asset()]}, env={}); "
            "print(type(cfg.assets[0].source).__name__, cfg.assets[0].points[1].source_address())")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": f"{ROOT}:{tmp_path}", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["TallySourceConfig", "tally+5"]
