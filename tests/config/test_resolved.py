"""A loaded config is final: every path resolved once by one set of rules, every model frozen, changes derived.

`load_config` makes relative paths relative to the config file's folder (from any working directory) and
puts what the gateway keeps with its data beside the historian; `with_overrides` is the one way to get a
changed config, and it resolves the result the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from connectors import registry
from connectors.config_base import StrictModel
from gateway.config import ConfigError, GatewayConfig, load_config, parse_config, with_overrides

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "example-config.yaml"
ICAL = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nDTSTART:20250310T060000Z\nDTEND:20250310T140000Z\n" \
       "RRULE:FREQ=DAILY\nSUMMARY:Day\nEND:VEVENT\nEND:VCALENDAR\n"


def _asset(name: str, source: dict[str, Any], points: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"id_short": name, "id": f"urn:test:aas:{name}", "global_asset_id": f"urn:test:asset:{name}",
            "source": source, "points": points, **more}


def _plant(site: Path, **top: Any) -> Path:
    """A config in `site/etc` naming files relatively, for every kind of path the config has."""
    (site / "etc" / "cal").mkdir(parents=True)
    (site / "etc" / "cal" / "plant.ics").write_text(ICAL)
    opcua = {"endpoint": "opc.tcp://127.0.0.1:4840/", "user": {"type": "certificate", "certificate": "certs/u.der",
                                                                "private_key": "/abs/u.pem"},
             "security": {"policy": "Basic256Sha256", "mode": "Sign", "certificate": "certs/gw.der",
                          "private_key": "certs/gw.pem", "server_certificate": "certs/plc.der"}}
    mqtt = {"type": "mqtt", "topic": "s/t", "broker": {"host": "b", "tls": {"ca_file": "certs/ca.pem"}}}
    kpi = {"state": {"point": "State", "map": {"Run": "production"}}, "counters": {"produced": "Count"},
           "calendar": {"ical": "cal/plant.ics"}}
    data = {
        "historian": {"path": "data/h.sqlite"},
        "api": {"auth": {"jwt": {"issuer": "https://idp", "audience": "gw", "jwks_file": "idp/jwks.json"}},
                "tls": {"certificate": "tls/api.pem", "private_key": "tls/api-key.pem"}},
        "forwarders": [{"name": "tsdb", "sink": {"type": "influxdb", "url": "https://tsdb", "org": "o", "bucket": "b",
                                                 "ca_file": "certs/tsdb-ca.pem"}}],
        "assets": [_asset("M1", opcua, [{"node": "s=State", "path": "State", "type": "String"},
                                        {"node": "s=Count", "path": "Count", "type": "UInt32"}], kpi=kpi),
                   _asset("TH", mqtt, [{"pointer": "/t", "path": "T", "type": "xs:double"}])],
        **top,
    }
    f = site / "etc" / "gateway.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


def test_every_path_is_resolved_once_relative_to_the_config_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    f = _plant(tmp_path)
    monkeypatch.chdir(tmp_path / "etc" / "cal")  # the working directory plays no part
    cfg = load_config(Path("..") / "gateway.yaml")
    etc, data = tmp_path / "etc", tmp_path / "etc" / "data"
    assert cfg.historian.path == etc / "data" / "h.sqlite"
    # what the gateway keeps with its data: beside the historian
    assert (cfg.pki.path, cfg.audit.path) == (data / "pki", data / "audit" / "audit.jsonl")
    assert cfg.api.auth.api_keys_file == data / "api-keys.json"
    assert cfg.detection.state_path == data / "detect-state.json"
    # files the config names: relative to its folder
    assert cfg.api.auth.jwt is not None and cfg.api.auth.jwt.jwks_file == etc / "idp" / "jwks.json"
    assert cfg.api.tls is not None and (cfg.api.tls.certificate, cfg.api.tls.private_key) == (
        etc / "tls" / "api.pem", etc / "tls" / "api-key.pem")
    m1, th = cfg.assets
    assert m1.kpi is not None and m1.kpi.calendar.ical == str(etc / "cal" / "plant.ics")
    sec, user = m1.source.security, m1.source.user  # type: ignore[attr-defined]
    assert (sec.certificate, sec.private_key, sec.server_certificate) == (
        str(etc / "certs" / "gw.der"), str(etc / "certs" / "gw.pem"), str(etc / "certs" / "plc.der"))
    assert (user.certificate, user.private_key) == (str(etc / "certs" / "u.der"), "/abs/u.pem")  # absolute: kept
    assert th.source.broker.tls.ca_file == str(etc / "certs" / "ca.pem")  # type: ignore[attr-defined]
    assert cfg.forwarders[0].sink.ca_file == str(etc / "certs" / "tsdb-ca.pem")  # type: ignore[attr-defined]
    # the same from the config's own folder, and again from a second load: one answer
    monkeypatch.chdir(etc)
    assert load_config("gateway.yaml").model_dump() == cfg.model_dump() == load_config(f).model_dump()
    assert cfg.origin is not None and cfg.origin.config_dir == etc.resolve()
    assert cfg.origin.file.endswith("gateway.yaml")


def test_explicit_paths_win_and_a_relative_detector_state_lives_with_the_historian(tmp_path: Path) -> None:
    f = _plant(tmp_path, pki={"path": "/srv/pki"}, audit={"path": "logs/audit.jsonl"},
               detection={"state_path": "learned/state.json"})
    cfg = load_config(f)
    etc = tmp_path / "etc"
    assert (cfg.pki.path, cfg.audit.path) == (Path("/srv/pki"), etc / "logs" / "audit.jsonl")
    assert cfg.detection.state_path == etc / "data" / "learned" / "state.json"


def test_a_bad_calendar_file_names_its_key(tmp_path: Path) -> None:
    f = _plant(tmp_path)
    (tmp_path / "etc" / "cal" / "plant.ics").unlink()
    with pytest.raises(ConfigError) as e:
        load_config(f)
    ((key, message),) = [(i.key, i.message) for i in e.value.issues]
    assert key == "assets[0].kpi.calendar.ical" and "cannot read" in message


def test_parsed_without_a_file_relative_paths_stay_relative_but_data_lives_beside_the_historian() -> None:
    cfg = parse_config({"historian": {"path": "var/h.sqlite"}, "assets": [_asset("M1", {
        "endpoint": "opc.tcp://h:4840/", "security": "auto"}, [{"node": "s=A", "path": "A", "type": "Double"}])]},
        env={})
    assert cfg.historian.path == Path("var/h.sqlite")
    assert (cfg.pki.path, cfg.audit.path, cfg.api.auth.api_keys_file) == (
        Path("var/pki"), Path("var/audit/audit.jsonl"), Path("var/api-keys.json"))


def _models(cfg: BaseModel) -> list[BaseModel]:
    out = [cfg]
    for name in type(cfg).model_fields:
        v = getattr(cfg, name)
        for item in v if isinstance(v, list | tuple) else v.values() if isinstance(v, dict) else [v]:
            if isinstance(item, BaseModel):
                out.extend(_models(item))
    return out


def test_every_config_model_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(_plant(tmp_path))
    models = _models(cfg) + _models(load_config(EXAMPLE))
    classes = {type(m) for m in models}
    assert len(classes) > 25  # sections, sources, sinks, points, KPI and detection blocks
    for m in models:
        assert isinstance(m, StrictModel), type(m)
        name = next(iter(type(m).model_fields))
        with pytest.raises(ValidationError, match="frozen"):
            setattr(m, name, getattr(m, name))
    for d in registry.descriptors():
        for cls in [r.config for r in (d.source, d.sink) if r] + ([d.source.point] if d.source else []):
            assert issubclass(cls, StrictModel) and cls.model_config.get("frozen"), cls


def test_with_overrides_derives_a_resolved_config_and_leaves_the_original(tmp_path: Path) -> None:
    f = _plant(tmp_path, pki={"path": "own-pki"})
    cfg = load_config(f)
    before = cfg.model_dump()
    moved = with_overrides(cfg, {"api.port": 0, "historian.path": tmp_path / "elsewhere" / "h.sqlite",
                                 "assets[0].source.endpoint": "opc.tcp://10.0.0.9:4841/",
                                 "assets[1].points[0].unit": "Cel", "api.auth.anonymous_read": True})
    assert cfg.model_dump() == before and cfg.api.port == 8080  # the original is untouched
    assert moved.api.port == 0 and moved.api.auth.anonymous_read
    assert moved.assets[0].source.endpoint == "opc.tcp://10.0.0.9:4841/"  # type: ignore[attr-defined]
    assert moved.assets[1].points[0].unit == "Cel"
    # what lives beside the historian moved with it; what the file set stayed, resolved as the file's
    elsewhere = tmp_path / "elsewhere"
    assert (moved.audit.path, moved.api.auth.api_keys_file, moved.detection.state_path) == (
        elsewhere / "audit" / "audit.jsonl", elsewhere / "api-keys.json", elsewhere / "detect-state.json")
    assert moved.pki.path == tmp_path / "etc" / "own-pki"
    assert moved.api.auth.jwt is not None and moved.api.auth.jwt.jwks_file == tmp_path / "etc" / "idp" / "jwks.json"
    # a relative path given as an override is relative to the config file's folder, like the file's own
    assert cfg.with_overrides({"historian.path": "other/h.sqlite"}).pki.path == tmp_path / "etc" / "own-pki"
    assert cfg.with_overrides({"historian.path": "other/h.sqlite"}).historian.path == tmp_path / "etc" / "other" / \
        "h.sqlite"
    # overrides of overrides start from the same file
    assert moved.with_overrides({"api.port": 9000}).historian.path == elsewhere / "h.sqlite"


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"api.port": 70000}, ("api.port", "Input should be less than or equal to 65535")),
    ({"api.prot": 1}, ("api.prot", "unknown key (typo?)")),
    ({"assets[5].source.endpoint": "opc.tcp://x/"}, ("assets[5]", "no such item (there are 2)")),
    ({"assets[0].source.endpoint": "http://x/"}, ("assets[0].source.endpoint", "must start with opc.tcp://")),
    ({"historian.retention.max_disk_mb": 1}, ("historian.retention.max_disk_mb", "must be at least max_size_mb "
                                                                                 "(it is the hard cap above it)")),
    ({"assets[0]": {}}, ("assets[0]", "'assets[0]' is not a key path like api.port or assets[0].source.endpoint")),
])
def test_a_bad_override_is_refused_naming_its_key(tmp_path: Path, overrides: dict[str, Any],
                                                  expected: tuple[str, str]) -> None:
    cfg = load_config(_plant(tmp_path))
    with pytest.raises(ConfigError) as e:
        cfg.with_overrides(overrides)
    assert [(i.key, i.message) for i in e.value.issues] == [expected]
    assert e.value.file.endswith("gateway.yaml (overridden)")


def test_a_dumped_config_parses_back_to_the_same(tmp_path: Path) -> None:
    """Tests and tools rebuild configs from `model_dump`: the connectors' fields must be in it."""
    cfg = load_config(_plant(tmp_path))
    dumped = cfg.model_dump(mode="python", exclude_unset=False)
    assert dumped["assets"][0]["points"][0]["node"] == "s=State"
    assert dumped["assets"][1]["source"]["broker"]["host"] == "b"
    again: GatewayConfig = parse_config(cfg.model_dump(mode="json", exclude_none=True), env={})
    assert again.assets == cfg.assets and again.forwarders == cfg.forwarders
