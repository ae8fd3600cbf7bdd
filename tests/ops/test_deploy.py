"""deploy/ checked as far as this machine allows: the systemd unit with systemd's own verifier, the
installer run into a staging root, and the Dockerfile, compose file, Grafana provisioning and
dashboards validated as data against what the gateway really writes (no Docker engine here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aas_models.kpi import kpi_paths
from connectors.influx.config import InfluxConfig
from connectors.mqtt.config import MqttPublisherConfig
from gateway.config import GatewayConfig, load_config
from gateway.ops.operation import OPERATION_RATE, operation_elements
from gateway.ops.service import gateway_id_short

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "aas-gateway.service"
COMPOSE = DEPLOY / "compose"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
ENV = {"INFLUX_TOKEN": "t0ken", "MQTT_PASSWORD": "pw"}


# --- systemd ----------------------------------------------------------------------------------------


def unit_settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def verifiable_copy(tmp_path: Path, text: str) -> Path:
    """The unit with ExecStart pointing at this checkout's aas-gateway (verify checks the binary exists)."""
    exe = Path(sys.executable).parent / "aas-gateway"
    assert exe.exists(), exe
    out = tmp_path / "aas-gateway.service"
    out.write_text(text.replace("/opt/aas-gateway/venv/bin/aas-gateway", str(exe)))
    return out


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(SYSTEMD_ANALYZE).exists(), "systemd-analyze is part of systemd: apt-get install systemd"
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=120)


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    r = analyze("verify", str(verifiable_copy(tmp_path, UNIT.read_text())))
    assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", r.stderr + r.stdout
    # the check can fail: a misspelt key is reported (on stderr, exit code 0: hence the stderr assertion)
    bad = analyze("verify", str(verifiable_copy(tmp_path, UNIT.read_text().replace("ProtectHome=", "ProtectHom="))))
    assert "Unknown key 'ProtectHom'" in bad.stderr


def test_the_unit_is_hardened_and_notifies(tmp_path: Path) -> None:
    s = unit_settings(UNIT.read_text())
    expected = {"Type": "notify", "User": "aas-gateway", "Group": "aas-gateway", "Restart": "always",
                "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                "CapabilityBoundingSet": "", "AmbientCapabilities": "", "ReadWritePaths": "/var/lib/aas-gateway",
                "WorkingDirectory": "/var/lib/aas-gateway"}
    for k, v in expected.items():
        assert s.get(k) == [v], (k, s.get(k))
    assert int(s["WatchdogSec"][0]) >= 30  # pings every third of it; a loaded box must not miss two in a row
    assert s["ExecStart"][0].startswith("/opt/aas-gateway/venv/bin/aas-gateway run -c /etc/aas-gateway/config.yaml")
    # systemd's own score of the sandbox (0 = locked down, 10 = none): the unit must stay well below "MEDIUM"
    r = analyze("security", "--offline=yes", str(verifiable_copy(tmp_path, UNIT.read_text())))
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout[-3000:]


@pytest.mark.slow
def test_the_installer_is_idempotent_and_never_overwrites_the_config(tmp_path: Path) -> None:
    """Two runs into a staging root (a real venv, pip, check-config): the second keeps an edited config."""
    root = tmp_path / "root"
    env = {**os.environ, "PYTHON": shutil.which("python3.11") or shutil.which("python3") or "python3"}
    env.pop("VIRTUAL_ENV", None)
    first = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(root)], capture_output=True, text=True,
                           env=env, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    cfg = root / "etc/aas-gateway/config.yaml"
    assert cfg.read_text() == (DEPLOY / "server-config.yaml").read_text()
    assert stat.S_IMODE((root / "etc/aas-gateway/environment").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "var/lib/aas-gateway").stat().st_mode) == 0o700
    assert (root / "etc/systemd/system/aas-gateway.service").read_text() == UNIT.read_text()
    edited = cfg.read_text().replace("name: edge-gateway", "name: my-line-7")
    cfg.write_text(edited)
    second = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(root)], capture_output=True, text=True,
                            env=env, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "keeping the existing" in second.stdout and "(upgraded)" in second.stdout
    assert cfg.read_text() == edited
    version = subprocess.run([str(root / "opt/aas-gateway/venv/bin/aas-gateway"), "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.startswith("aas-gateway ")
    # a broken config stops the installer (it says so) instead of starting a service that cannot run
    cfg.write_text(edited.replace("assets:", "asets:"))
    third = subprocess.run([str(DEPLOY / "install.sh"), "--root", str(root)], capture_output=True, text=True,
                           env=env, timeout=900)
    assert third.returncode == 2 and "unknown key" in third.stderr + third.stdout


def test_the_installer_parses_and_documents_itself() -> None:
    assert subprocess.run(["bash", "-n", str(DEPLOY / "install.sh")]).returncode == 0
    r = subprocess.run([str(DEPLOY / "install.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "never overwritten" in r.stdout
    assert os.access(DEPLOY / "install.sh", os.X_OK)


# --- Docker -----------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_runs_as_a_user_with_a_healthcheck_and_volumes() -> None:
    ins = dockerfile_instructions()
    stages = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    final = ins[stages[-1]:]
    users = [v for w, v in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = " ".join(v for w, v in final if w == "HEALTHCHECK")
    cfg = load_config(DEPLOY / "docker" / "config.yaml", env={})
    assert f"127.0.0.1:{cfg.api.port}/health/live" in health and "--interval" in health
    assert [v for w, v in final if w == "EXPOSE"] == [str(cfg.api.port)]
    assert cfg.api.host == "0.0.0.0"
    volumes = json.loads(next(v for w, v in final if w == "VOLUME"))
    assert "/var/lib/aas-gateway" in volumes and "/var/lib/aas-gateway/pki" in volumes
    assert str(cfg.historian.path).startswith("/var/lib/aas-gateway/")
    assert str(cfg.pki.path) == "/var/lib/aas-gateway/pki"
    assert str(cfg.audit.path).startswith("/var/lib/aas-gateway/")
    for w, v in ins:
        assert not (w == "ADD" and "://" in v), "nothing is fetched from the network by ADD"
        if w == "COPY" and "--from=" not in v:
            for src in v.split()[:-1]:
                assert (ROOT / src).exists(), src
    entry = json.loads(next(v for w, v in final if w == "ENTRYPOINT"))
    cmd = json.loads(next(v for w, v in final if w == "CMD"))
    assert entry == ["aas-gateway"] and cmd[:3] == ["run", "-c", "/etc/aas-gateway/config.yaml"]
    assert all(re.match(r"python:3\.1[1-9]-slim-\w+", v.split()[0]) for w, v in ins if w == "FROM")


# --- compose, Grafana ---------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    doc = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def compose_gateway_config() -> GatewayConfig:
    return load_config(COMPOSE / "gateway" / "config.yaml", env=ENV)


def test_the_compose_file_is_complete() -> None:
    doc = compose()
    services = doc["services"]
    assert {"gateway", "influxdb", "mosquitto", "grafana"} <= set(services)
    assert services["influxdb"]["image"].startswith("influxdb:2")
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    declared = set(doc["volumes"])
    env_example = dict(line.split("=", 1) for line in (COMPOSE / "env.example").read_text().splitlines()
                       if line and not line.startswith("#"))
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (COMPOSE / src).exists(), f"{name}: {src}"
            else:
                assert src in declared, f"{name}: volume {src} not declared"
        for value in (svc.get("environment") or {}).values():
            for var in re.findall(r"\$\{(\w+)", str(value)):
                assert var in env_example, f"{name} uses ${{{var}}}, which env.example does not list"
        for dep in svc.get("depends_on", {}):
            assert dep in services
    gw = services["gateway"]
    assert gw["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE / gw["build"]["context"] / "deploy/Dockerfile").exists()
    mounts = {v.split(":")[1]: v.split(":")[0] for v in gw["volumes"]}
    assert mounts["/etc/aas-gateway/config.yaml"] == "./gateway/config.yaml"
    assert "/var/lib/aas-gateway" in mounts and "/var/lib/aas-gateway/pki" in mounts


def test_the_compose_gateway_config_forwards_to_the_compose_peers() -> None:
    cfg = compose_gateway_config()
    services = compose()["services"]
    influx_env = services["influxdb"]["environment"]
    sinks = {f.name: f.sink for f in cfg.forwarders}
    influx = next(s for s in sinks.values() if isinstance(s, InfluxConfig))
    mqtt = next(s for s in sinks.values() if isinstance(s, MqttPublisherConfig))
    assert influx.url == "http://influxdb:8086" and influx.org == influx_env["DOCKER_INFLUXDB_INIT_ORG"]
    assert influx.bucket == influx_env["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert mqtt.broker.host == "mosquitto" and mqtt.broker.username == "gateway"
    conf = (COMPOSE / "mosquitto" / "mosquitto.conf").read_text()
    assert f"listener {mqtt.broker.port}" in conf and "allow_anonymous false" in conf
    # the same machines as the demo (deploy/example-config.yaml), at the simulators service
    example = yaml.safe_load((DEPLOY / "example-config.yaml").read_text())["assets"]
    ours = yaml.safe_load((COMPOSE / "gateway" / "config.yaml").read_text())["assets"]
    for a in (*example, *ours):
        a["source"].pop("endpoint")
    assert ours == example
    sim = " ".join(services["simulators"]["command"])
    for a in cfg.assets:
        endpoint = a.connector.endpoint(a.source)
        port = endpoint.rsplit(":", 1)[1].strip("/")
        assert f":{port}:name={a.id_short}" in sim and endpoint.startswith("opc.tcp://simulators:")


def provisioned_datasource() -> dict[str, Any]:
    doc = yaml.safe_load((COMPOSE / "grafana/provisioning/datasources/influxdb.yaml").read_text())
    assert doc["apiVersion"] == 1
    [ds] = doc["datasources"]
    return dict(ds)


def test_grafana_provisioning_matches_influxdb_and_the_mounts() -> None:
    ds = provisioned_datasource()
    env = compose()["services"]["influxdb"]["environment"]
    assert ds["type"] == "influxdb" and ds["access"] == "proxy" and ds["url"] == "http://influxdb:8086"
    assert ds["jsonData"]["version"] == "Flux"
    assert ds["jsonData"]["organization"] == env["DOCKER_INFLUXDB_INIT_ORG"]
    assert ds["jsonData"]["defaultBucket"] == env["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert ds["secureJsonData"]["token"] == "$INFLUX_TOKEN"
    assert "INFLUX_TOKEN" in compose()["services"]["grafana"]["environment"]
    prov = yaml.safe_load((COMPOSE / "grafana/provisioning/dashboards/aas-gateway.yaml").read_text())
    assert prov["apiVersion"] == 1
    [provider] = prov["providers"]
    assert provider["type"] == "file"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["grafana"]["volumes"]}
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"


def known_series(cfg: GatewayConfig) -> set[tuple[str, str, str]]:
    """(asset, submodel, path) of every series the gateway can forward with this config."""
    out = {(a.id_short, p.submodel, p.path) for a in cfg.assets for p in a.points}
    for a in cfg.assets:
        if a.kpi is not None:
            out |= {(a.id_short, "ProductionKPIs", path) for path, _ in kpi_paths()}
    gw = gateway_id_short(cfg)
    out |= {(gw, OPERATION_RATE, e.path) for e in operation_elements([a.id_short for a in cfg.assets],
                                                                        [f.name for f in cfg.forwarders])}
    return out


def test_dashboards_query_series_the_gateway_writes() -> None:
    cfg = compose_gateway_config()
    influx = next(f.sink for f in cfg.forwarders if isinstance(f.sink, InfluxConfig))
    series = known_series(cfg)
    ds_uid = provisioned_datasource()["uid"]
    files = sorted((COMPOSE / "grafana/dashboards").glob("*.json"))
    assert {f.stem for f in files} >= {"trends", "kpis", "gateway-health"}
    uids = set()
    for f in files:
        d = json.loads(f.read_text())
        assert d["uid"] not in uids and len(d["uid"]) <= 40 and d["title"] and isinstance(d["schemaVersion"], int)
        uids.add(d["uid"])
        assert d["panels"], f.name
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), f"{f.name}: panel ids repeat"
        for p in d["panels"]:
            assert {"x", "y", "w", "h"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            assert p["datasource"]["uid"] == ds_uid and p["targets"], (f.name, p["title"])
            for t in p["targets"]:
                assert t["datasource"]["uid"] == ds_uid
                query = t["query"]
                assert query.startswith("from(bucket: v.defaultBucket)") and "range(start: v.timeRangeStart" in query
                assert f'r._measurement == "{influx.measurement}"' in query, (f.name, p["title"])
                for field in re.findall(r'r\._field == "(\w+)"', query):
                    assert field in ("value", "status")
                assets = re.findall(r'r\.asset == "([^"]+)"', query)
                submodels = re.findall(r'r\.submodel == "([^"]+)"', query)
                paths = re.findall(r'r\.path == "([^"]+)"', query)
                for a in assets:
                    for sm in submodels:
                        for path in paths:
                            assert (a, sm, path) in series, f"{f.name} / {p['title']}: no series {a}/{sm}/{path}"
                if not assets:  # a query over all assets: its submodel must exist somewhere
                    assert all(any(s[1] == sm for s in series) for sm in submodels)
    assert {"asset", "submodel", "path"} <= set(influx.tags)
