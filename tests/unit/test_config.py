"""Config validation: every error names the file, the key path and the problem."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from connectors.opcua.config import ONE_ADDRESS, OpcUaSourceConfig
from gateway.config import ConfigError, load_config, parse_config
from tests.secrets import secret as register_secret

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "example-config.yaml"


def _minimal() -> dict:
    return {
        "assets": [{
            "id_short": "M1", "id": "urn:x:aas:M1", "global_asset_id": "urn:x:asset:M1",
            "source": {"endpoint": "opc.tcp://127.0.0.1:4840/", "security": {"policy": "None", "mode": "None"}},
            "points": [{"node": "ns=2;s=A", "path": "A", "type": "Double"}],
        }]
    }


def _issues(data: dict, env: dict | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as ei:
        parse_config(data, "cfg.yaml", env or {})
    return [(i.key, i.message) for i in ei.value.issues]


def test_example_config_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert [a.id_short for a in cfg.assets] == ["CNC01", "IMM01", "EM01"]
    sources = [a.source for a in cfg.assets]
    assert all(isinstance(s, OpcUaSourceConfig) for s in sources)  # `type` left out: OPC UA
    assert {s.mode for s in sources if isinstance(s, OpcUaSourceConfig)} == {"subscription", "poll"}


def test_minimal_config_defaults() -> None:
    cfg = parse_config(_minimal(), env={})
    assert cfg.assets[0].points[0].type == "xs:double"
    assert cfg.assets[0].points[0].submodel == "OperationalData"
    assert cfg.historian.synchronous == "full"


def test_missing_node_names_key_path() -> None:
    data = _minimal()
    data["assets"][0]["points"].append({"path": "B", "type": "xs:int"})
    assert _issues(data) == [("assets[0].points[1]", ONE_ADDRESS)]


def test_typo_and_bad_values_are_all_reported() -> None:
    data = _minimal()
    data["assets"][0]["source"]["publising_interval_ms"] = 5
    data["assets"][0]["source"]["mode"] = "push"
    data["assets"][0]["points"][0]["type"] = "Quaternion"
    keys = {k for k, _ in _issues(data)}
    assert keys == {"assets[0].source.publising_interval_ms", "assets[0].source.mode", "assets[0].points[0].type"}


def test_security_must_be_explicit() -> None:
    data = _minimal()
    del data["assets"][0]["source"]["security"]
    assert ("assets[0].source.security", "Field required") in _issues(data)


def test_duplicates_are_rejected_with_their_twin() -> None:
    data = _minimal()
    data["assets"][0]["points"].append({"node": "ns=2;s=B", "path": "A", "type": "Double"})
    data["assets"].append(dict(data["assets"][0], id="urn:x:aas:other"))
    issues = _issues(data)
    assert ("assets[0].points[1].path", "OperationalData/A is already used by points[0]") in issues


def test_duplicate_asset_ids() -> None:
    data = _minimal()
    data["assets"].append(dict(data["assets"][0]))
    assert ("assets[1].id_short", "'M1' is already used by assets[0]") in _issues(data)


def test_bad_idshort_path() -> None:
    data = _minimal()
    data["assets"][0]["points"][0]["path"] = "Spindle.2nd"
    [(key, msg)] = _issues(data)
    assert key == "assets[0].points[0].path" and "'2nd' is not a valid idShort" in msg


def test_env_and_file_secrets(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(register_secret("s3cret-pw") + "\n")
    data = _minimal()
    data["assets"][0]["source"]["user"] = {"username": "${OPC_USER}", "password": f"${{file:{secret}}}"}
    cfg = parse_config(data, env={"OPC_USER": "gateway"})
    src = cfg.assets[0].source
    assert isinstance(src, OpcUaSourceConfig)
    user = src.user
    assert user is not None and user.username == "gateway"
    assert user.password is not None and user.password.get_secret_value() == "s3cret-pw"
    assert "s3cret" not in repr(cfg)


def test_missing_env_var_names_key() -> None:
    data = _minimal()
    data["assets"][0]["source"]["user"] = {"username": "u", "password": "${OPC_PASSWORD}"}
    assert _issues(data) == [("assets[0].source.user.password", "environment variable OPC_PASSWORD is not set")]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("assets:\n  - id_short: [unclosed\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f)
    assert str(f) in ei.value.report() and "line" in ei.value.report()


@pytest.mark.slow
def test_check_config_cli(tmp_path: Path) -> None:
    data = _minimal()
    data["assets"][0]["points"][0]["node"] = None
    data["assets"][0]["points"].append({"node": "ns=2;s=B", "path": "B", "type": "xs:double",
                                        "deadband": {"type": "absolute", "value": -1}})
    f = tmp_path / "plant.yaml"
    f.write_text(yaml.safe_dump(data))
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "check-config", str(f)], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{f}: assets[0].points[0]: {ONE_ADDRESS}" in r.stderr
    assert f"{f}: assets[0].points[1].deadband.value:" in r.stderr
    ok = subprocess.run([sys.executable, "-m", "gateway.cli", "check-config", str(EXAMPLE)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "3 asset(s)" in ok.stdout


def _mqtt_asset() -> dict:
    return {"id_short": "TH", "id": "urn:x:aas:TH", "global_asset_id": "urn:x:asset:TH",
            "source": {"type": "mqtt", "broker": {"host": "127.0.0.1"}, "topic": "sensors/th"},
            "points": [{"pointer": "/t", "path": "T", "type": "xs:double"}]}


def test_mqtt_source_points_need_pointers_and_no_opcua_addresses() -> None:
    data = _minimal()
    data["assets"] = [_mqtt_asset()]
    cfg = parse_config(data, env={})
    assert cfg.assets[0].source.type == "mqtt"
    data["assets"][0]["points"][0] = {"path": "T", "type": "xs:double"}
    assert _issues(data) == [("assets[0].points[0].pointer", "an MQTT point needs a JSON pointer, e.g. /temp")]
    data["assets"][0]["points"][0] = {"node": "ns=2;s=A", "path": "T", "type": "xs:double"}
    assert _issues(data) == [("assets[0].points[0].node",
                              "unknown key: 'node' is a point field of opcua sources, not of this one")]
    data = _minimal()
    data["assets"][0]["points"][0] = {"pointer": "/t", "path": "T", "type": "xs:double"}
    assert _issues(data) == [("assets[0].points[0].pointer",
                              "unknown key: 'pointer' is a point field of mqtt sources, not of this one")]


def test_forwarders_are_validated_with_key_paths() -> None:
    data = _minimal()
    sink = {"type": "influxdb", "url": "http://tsdb:8086", "org": "o", "bucket": "b", "token": "${TOKEN}"}
    data["forwarders"] = [{"name": "tsdb", "sink": sink}, {"name": "tsdb", "sink": dict(sink, url="ftp://x")}]
    keys = {k for k, _ in _issues(data, env={"TOKEN": register_secret("secret-token")})}
    assert keys == {"forwarders[1].sink.url"}
    data["forwarders"][1]["sink"]["url"] = "http://other:8086"
    assert _issues(data, env={"TOKEN": "t"}) == [("forwarders[1].name", "'tsdb' is already used by forwarders[0]")]
    data["forwarders"][1]["name"] = "historian"  # names the historian's own dead letters
    ((key, message),) = _issues(data, env={"TOKEN": "t"})
    assert key == "forwarders[1].name" and message.startswith("'historian' is reserved")
    data["forwarders"].pop()
    cfg = parse_config(data, env={"TOKEN": "secret-token"})
    assert "secret-token" not in repr(cfg)


def test_disk_cap_must_be_above_the_size_limit() -> None:
    data = _minimal()
    data["historian"] = {"retention": {"max_size_mb": 100, "max_disk_mb": 50}}
    assert _issues(data) == [("historian.retention.max_disk_mb", "must be at least max_size_mb (it is the hard cap "
                                                                 "above it)")]


def test_jwks_url_must_be_https_except_on_this_host() -> None:
    def jwt(url: str) -> dict:
        data = _minimal()
        data["api"] = {"auth": {"jwt": {"issuer": "https://idp", "audience": "gw", "jwks_url": url}}}
        return data

    [(key, message)] = _issues(jwt("http://idp.plant.example/certs"))
    assert key == "api.auth.jwt" and "https" in message
    for ok in ("https://idp.plant.example/certs", "http://127.0.0.1:8081/certs", "http://localhost/certs"):
        assert parse_config(jwt(ok), env={}).api.auth.jwt is not None


@pytest.mark.parametrize(("given", "canonical"), [
    ("Double", "xs:double"), ("bytestring", "xs:base64Binary"), ("GUID", "Guid"), ("NodeId", "NodeId"),
    ("expandednodeid", "ExpandedNodeId"), ("StatusCode", "StatusCode"), ("QualifiedName", "QualifiedName"),
    ("LocalizedText", "LocalizedText"), ("XmlElement", "XmlElement"), ("ExtensionObject", "Structure"),
    ("DataValue", "DataValue"), ("BaseDataType", "Variant"), ("variant", "Variant"),
    ("DiagnosticInfo", "DiagnosticInfo"), ("Double[]", "xs:double[]"), ("int32[][]", "xs:int[][]"),
    ("LocalizedText[]", "LocalizedText[]"), ("Structure[]", "Structure[]"), ("xs:base64Binary", "xs:base64Binary"),
])
def test_every_built_in_type_name_is_accepted(given: str, canonical: str) -> None:
    data = _minimal()
    data["assets"][0]["points"][0]["type"] = given
    assert parse_config(data, env={}).assets[0].points[0].type == canonical


def test_unknown_type_lists_the_choices() -> None:
    data = _minimal()
    data["assets"][0]["points"][0]["type"] = "Double[2]"
    ((key, message),) = _issues(data)
    assert key == "assets[0].points[0].type"
    assert "unknown data type 'Double[2]'" in message
    for choice in ("xs:double", "ByteString", "LocalizedText", "ExtensionObject", "DiagnosticInfo", "Double[]"):
        assert choice in message


@pytest.mark.parametrize("type_name", ["Double[]", "LocalizedText", "Structure", "Variant"])
def test_only_single_values_can_be_writable(type_name: str) -> None:
    data = _minimal()
    data["assets"][0]["points"][0].update(type=type_name, writable=True)
    ((key, message),) = _issues(data)
    assert key == "assets[0].points[0].writable" and "cannot be written" in message
