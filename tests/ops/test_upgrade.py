"""An upgrade from the previous release: today's gateway opens a data directory v0.1.0 wrote.

The fixture (tests/fixtures/upgrade-v0.1.0.tar.gz, made by scripts/make-upgrade-fixture with the
v0.1.0 code itself; see tests/fixtures/README.md) holds a schema-v2 historian, the gateway's PKI
with three trusted machine certificates, an API key file, a hash-chain-less audit log and an MQTT
forwarder's cursor with a backlog behind it. The test runs today's `aas-gateway run` as a process
on the *config v0.1.0 ran with* (only ports changed, and trust on first use turned off, so that the
machines can only be reached through the trust list v0.1.0 built), against simulators that present
the same machine certificates, a fresh Mosquitto and a plain paho subscriber, and checks what an
upgrade must keep: every sample, the certificate identity, the trust list, the API key, the
forwarder's position, and an audit log that verifies with the old records as a legacy prefix.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.historian.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import wait_for
from tests.mqtt.broker import start_mosquitto, stop_mosquitto
from tests.mqtt.helpers import Subscriber
from tests.ops.procs import free_port, query, run_cli, start_gateway, start_simulators, stop

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade-v0.1.0.tar.gz"
SAMPLE_COLUMNS = "seq, series, ts, value, status, source_ts, server_ts, recv_ts"


def unpack(dest: Path) -> dict[str, Any]:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(dest, filter="data")
    meta: dict[str, Any] = json.loads((dest / "fixture.json").read_text())
    return meta


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest().upper()


def test_every_earlier_historian_schema_has_a_migration() -> None:
    # a file of any version 1 .. SCHEMA_VERSION-1 is brought up step by step (the fixture is v2, v0.1.0's)
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION))


def test_the_fixture_is_what_v010_wrote(tmp_path: Path) -> None:
    meta = unpack(tmp_path)
    db = tmp_path / "data" / "historian.sqlite"
    assert meta["release"] == "v0.1.0" and meta["schema_version"] == 2
    assert query(db, "PRAGMA user_version")[0][0] == 2
    assert query(db, "SELECT count(*), max(seq) FROM samples")[0] == (meta["samples"], meta["max_seq"])
    assert 0 < meta["cursor"] < meta["max_seq"]  # a backlog the upgraded gateway has to deliver
    audit = (tmp_path / "data" / "audit" / "audit.jsonl").read_text().splitlines()
    assert audit and all("hash" not in json.loads(line) for line in audit)  # no chain in v0.1.0


@pytest.mark.slow
async def test_upgrade_from_v010_keeps_identity_and_data_and_resumes(tmp_path: Path) -> None:
    meta = unpack(tmp_path / "u")
    work, data = tmp_path / "u", tmp_path / "u" / "data"
    db = data / "historian.sqlite"
    key, cursor, last = meta["api_key"], meta["cursor"], meta["max_seq"]
    before = query(db, f"SELECT {SAMPLE_COLUMNS} FROM samples ORDER BY seq")
    series = query(db, "SELECT id, asset, submodel, path FROM series ORDER BY id")
    own = sha1(data / "pki" / "own" / "cert.der")
    own_key = (data / "pki" / "own" / "private" / "key.pem").read_bytes()
    trusted = {p.name: p.read_bytes() for p in (data / "pki" / "trusted").iterdir()}
    old_audit = (data / "audit" / "audit.jsonl").read_text().splitlines()
    assert len(trusted) == 3 and len(before) == meta["samples"]

    mqtt_port, broker = start_mosquitto(tmp_path)
    sub = Subscriber(mqtt_port, [f"{meta['topic_prefix']}/#"], client_id="upgrade-check")
    sim, machines = await start_simulators("--seed", "1", "--secure", "--pki", str(data / "simulator-pki"),
                                           "--machine", "cnc:0:name=CNC01", "--machine", "imm:0:name=IMM01",
                                           "--machine", "energy:0:name=EM01")
    # the config v0.1.0 ran with, as an operator keeps it across an upgrade; new ports, and no trust on first
    # use: the machines are reachable only if the trust list v0.1.0 built survived
    doc = yaml.safe_load((work / meta["config"]).read_text())
    port = free_port()
    doc["api"]["port"] = port
    for a in doc["assets"]:
        a["source"]["endpoint"] = machines[a["id_short"]]["endpoint"]
        a["source"]["security"]["trust_on_first_use"] = False
    doc["forwarders"][0]["sink"]["broker"]["port"] = mqtt_port
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    base = f"http://127.0.0.1:{port}"
    auth = {"X-API-Key": key}
    gw = None
    try:
        assert sub.subscribed.wait(10)
        gw = await start_gateway(cfg, log=tmp_path / "gateway.log")

        async def connected() -> bool:
            try:
                async with httpx.AsyncClient(timeout=5) as c:
                    r = await c.get(base + "/health/ready", headers=auth)
            except httpx.HTTPError:
                return False
            return r.status_code == 200 and r.json().get("connected") == 3

        await wait_for(connected, timeout=120, message="today's gateway connected to the three machines "
                       "through v0.1.0's trust list (see gateway.log)")

        # the historian was migrated, and every sample v0.1.0 stored is there as it was
        assert query(db, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert query(db, f"SELECT {SAMPLE_COLUMNS} FROM samples WHERE seq <= ? ORDER BY seq", (last,)) == before
        assert query(db, "SELECT id, asset, submodel, path FROM series WHERE id <= ? ORDER BY id",
                     (series[-1][0],)) == series
        # ... and served: one point's v0.1.0 history through today's REST API, value for value
        sid, asset, submodel, path = next(s for s in series if s[3] == "Spindle.Speed")
        old = [(ts, v) for _, s, ts, v, *_ in before if s == sid]
        frm = datetime.fromtimestamp(old[0][0] / 1e9, UTC).isoformat().replace("+00:00", "Z")
        to = datetime.fromtimestamp(old[-1][0] / 1e9 + 0.001, UTC).isoformat().replace("+00:00", "Z")
        import base64

        smid = base64.urlsafe_b64encode(f"urn:aas-gateway:demo:aas:{asset}:submodels:{submodel}".encode()
                                        ).decode().rstrip("=")
        async with httpx.AsyncClient(timeout=30, headers=auth) as c:
            r = await c.get(f"{base}/api/v3.0/submodels/{smid}/submodel-elements/{path}/history",
                            params={"from": frm, "to": to, "limit": 10000})
            assert r.status_code == 200, r.text
            got = r.json()["samples"]
            assert len(got) == len(old)
            assert [s["value"] for s in got] == [v for _, v in old]

            # the API key v0.1.0 created still authenticates (and a wrong one does not)
            assert (await c.get(f"{base}/api/v3.0/shells")).status_code == 200
            assert (await c.get(f"{base}/api/v3.0/shells", headers={"X-API-Key": "agw_nope"})).status_code == 401
            assert (await c.get(f"{base}/api/v3.0/shells", headers={"X-API-Key": ""})).status_code == 401

        # the forwarder resumed at its cursor: the backlog v0.1.0 left is delivered, nothing before it again
        def delivered() -> list[int]:
            return [int(m.json()["seq"]) for m in sub.all() if "$" not in m.topic and "seq" in m.json()]

        await wait_for(lambda: set(range(cursor + 1, last + 1)) <= set(delivered()), timeout=120,
                       message=f"the backlog {cursor + 1}..{last} delivered")
        seqs = delivered()
        resent = sorted(s for s in seqs if s <= cursor)
        assert min(seqs) == cursor + 1, f"re-sent what v0.1.0 had delivered: {resent[:10]}"
        await wait_for(lambda: query(db, "SELECT seq FROM cursors WHERE name = ?", (meta["forwarder"],))[0][0] > last,
                       timeout=60, message="the cursor moved past v0.1.0's last sample")

        # identity: the same certificate and key (no regeneration), the trust list as it was, nothing rejected
        assert sha1(data / "pki" / "own" / "cert.der") == own
        assert (data / "pki" / "own" / "private" / "key.pem").read_bytes() == own_key
        assert {p.name: p.read_bytes() for p in (data / "pki" / "trusted").iterdir()} == trusted
        assert not list((data / "pki" / "rejected").iterdir())
        code, out, err = await run_cli("pki", "-c", str(cfg), "list")
        assert code == 0 and own in out.upper().replace(":", ""), (out, err)

        # a new audit record (today's CLI) chains after v0.1.0's unchained ones
        code, _, err = await run_cli("apikey", "-c", str(cfg), "create", "--role", "reader", "--name", "after")
        assert code == 0, err
    finally:
        code_gw = await stop(gw)
        await stop(sim, sig=2)
        sub.close()
        stop_mosquitto(broker)
    assert code_gw == 0, (tmp_path / "gateway.log").read_text()[-3000:]

    lines = (data / "audit" / "audit.jsonl").read_text().splitlines()
    assert lines[:len(old_audit)] == old_audit  # the legacy prefix untouched
    new = [json.loads(line) for line in lines[len(old_audit):]]
    assert any(r.get("action") == "apikey.create" for r in new) and all("hash" in r and "prev" in r for r in new)
    code, out, err = await run_cli("audit", "-c", str(cfg), "verify", "--json")
    assert code == 0, (out, err)
    audit = next(v for v in json.loads(out) if v["log"] == "audit")
    assert audit["legacy"] == len(old_audit) and audit["records"] == len(new), audit
    assert not [f for f in audit["findings"] if f["problem"]]
    # and the records survive being read back as the admin's audit view reads them
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
