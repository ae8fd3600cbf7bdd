"""Acceptance: InfluxDB (VictoriaMetrics) and MQTT (Mosquitto) forwarding loses nothing.

Every test compares what the peers hold with what the historian holds, sample by sample.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from connectors.mqtt.topics import point_topic
from gateway.app import Gateway
from gateway.config import GatewayConfig, parse_config
from simulators.cnc import CncMachine
from simulators.scale import ScaleMachine
from tests.conftest import wait_for
from tests.influx.victoria import VictoriaMetrics
from tests.integration.conftest import asset
from tests.mqtt.broker import Broker
from tests.secrets import secret

pytestmark = pytest.mark.slow  # gateway, Mosquitto and VictoriaMetrics in their own processes; soaks and outages

RUN_S = float(os.environ.get("SOAK_SECONDS", "60"))
SCALE = {f"Vars.V{i:05d}": "xs:double" for i in range(40)}
CNC = {"Spindle.Speed": "xs:double", "Program.PartCount": "xs:unsignedInt", "Alarm.Active": "xs:boolean",
       "Machine.State": "xs:string"}


class PersistentSubscriber:
    """A QoS 1 subscriber whose session survives its own and the broker's restarts (nothing is missed)."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.births = 0  # gateway "online" status messages seen
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="acceptance-sub",
                                  protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # paho annotates int, takes float s
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, 10, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
        if "/$" in m.topic:  # status topics
            if "/$status/" in m.topic and json.loads(m.payload).get("status") == "online":
                with self._lock:
                    self.births += 1
            return
        with self._lock:
            self.messages.append((m.topic, json.loads(m.payload)))

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _config(tmp_path: Path, vm: VictoriaMetrics | None, broker: Broker | None, *assets: dict[str, Any],
            batch_size: int = 5000, historical_after_s: float = 10.0) -> dict[str, Any]:
    forwarders: list[dict[str, Any]] = []
    if vm is not None:
        forwarders.append({"name": "tsdb", "batch_size": batch_size, "sink": {
            "type": "influxdb", "url": vm.url, "org": "factory", "bucket": "line1",
            "token": secret("t0ken-not-logged")}})
    if broker is not None:
        forwarders.append({"name": "uns", "batch_size": batch_size, "historical_after_s": historical_after_s,
                           "sink": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port},
                                    "qos": 1}})
    return {"historian": {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 100},
            "api": {"enabled": False}, "forwarders": forwarders, "assets": list(assets)}


def _rows(db: Path) -> list[tuple[int, str, int, Any, int]]:
    """(seq, point id, ts, value, status) of everything committed."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT s.seq, r.asset || '/' || r.submodel || '/' || r.path, s.ts, s.value, s.status "
            "FROM samples s JOIN series r ON r.id = s.series ORDER BY s.seq").fetchall()


def _vm_points(vm: VictoriaMetrics) -> dict[str, list[tuple[int, float]]]:
    """point id -> [(ms timestamp, value)] of the `value` field, in VictoriaMetrics' order."""
    out: dict[str, list[tuple[int, float]]] = {}
    for series in vm.export('{__name__="aas_value"}'):
        m = series["metric"]
        pid = f"{m['asset']}/{m['submodel']}/{m['path']}"
        out[pid] = list(zip(series["timestamps"], series["values"], strict=True))
    return out


def _expected_vm(rows: list[tuple[int, str, int, Any, int]]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for _, pid, ts, value, _status in rows:
        if value is None or isinstance(value, str):  # bad samples carry no value; VM stores strings as 0
            continue
        out.setdefault(pid, []).append((ts // 1_000_000, float(value)))
    return out


async def _caught_up(gw: Gateway) -> bool:
    await gw.historian.flush()
    newest = await gw.historian.max_seq()
    return all(f.health.cursor >= newest for f in gw.forwarders)


async def test_steady_state_peers_hold_exactly_the_historian(machines: Any, tmp_path: Path,
                                                             victoria: VictoriaMetrics, mosquitto: Broker) -> None:
    scale = await machines(ScaleMachine, name="SCALE01", n=len(SCALE), rate_hz=2.0, seed=3)
    cnc = await machines(CncMachine, name="CNC01", seed=2)
    sub = PersistentSubscriber(mosquitto.port, "aas/#")
    try:
        cfg = parse_config(_config(tmp_path, victoria, mosquitto, asset("SCALE01", scale, SCALE),
                                   asset("CNC01", cnc, CNC)), env={})
        async with Gateway(cfg) as gw:
            await asyncio.sleep(RUN_S)  # the run itself
            scale.pause()
            cnc.pause()
            await wait_for(lambda: _caught_up(gw), timeout=60, message="forwarders caught up")
            rows = _rows(cfg.historian.path)
        await wait_for(lambda: len(sub.received()) >= len(rows), timeout=30, message="all MQTT messages")
    finally:
        sub.close()
    assert len(rows) >= RUN_S * len(SCALE) * 2 * 0.5
    # MQTT: one message per stored sample, same timestamp and value (booleans included)
    got = sub.received()
    assert len(got) == len(rows)
    by_seq = {p["seq"]: (topic, p) for topic, p in got}
    for seq, pid, ts, value, status in rows:
        topic, p = by_seq[seq]
        a, sm, path = pid.split("/", 2)
        assert topic == point_topic("aas", a, sm, path)
        assert p["value"] == value if not isinstance(value, float) else abs(p["value"] - value) < 1e-12
        assert p["statusCode"] == status and p["historical"] is False
        assert p["timestamp"] == _iso(ts)
    assert {type(p["value"]) for _, p in got} >= {float, int, bool, str}
    # InfluxDB line protocol into VictoriaMetrics: same points, same ms timestamps, same values
    expected = _expected_vm(rows)
    # VictoriaMetrics makes acknowledged rows searchable a little later: wait for the counts, then compare
    await wait_for(lambda: _vm_counts_reach(victoria, expected), timeout=30, interval=0.5, message="TSDB visible")
    stored = _vm_points(victoria)
    assert {pid: stored.get(pid) for pid in expected} == expected
    # string fields exist too (VictoriaMetrics keeps them as 0): one point per stored sample
    state = [r for r in rows if r[1] == "CNC01/OperationalData/Machine.State"]
    assert len(stored["CNC01/OperationalData/Machine.State"]) == len(state)


def _iso(ns: int) -> str:
    from connectors.sample import ns_to_iso

    return ns_to_iso(ns)


async def test_tsdb_outage_loses_nothing_and_keeps_order(machines: Any, tmp_path: Path,
                                                         victoria: VictoriaMetrics) -> None:
    scale = await machines(ScaleMachine, name="SCALE01", n=len(SCALE), rate_hz=2.0, seed=5)
    cfg = parse_config(_config(tmp_path, victoria, None, asset("SCALE01", scale, SCALE), batch_size=500), env={})
    async with Gateway(cfg) as gw:
        fw = gw.forwarders[0]
        await wait_for(lambda: fw.health.sent > 200, timeout=30, message="forwarding")
        victoria.stop()
        await wait_for(lambda: fw.health.state == "retrying", timeout=30, message="outage noticed")
        await asyncio.sleep(30)  # the outage: ingest goes on into the historian
        assert fw.health.lag > 500 or await gw.historian.max_seq() - fw.health.cursor > 500
        victoria.restart()
        await wait_for(lambda: fw.health.state == "forwarding" and fw.health.lag == 0, timeout=60,
                       message="caught up after the outage")
        scale.pause()
        await wait_for(lambda: _caught_up(gw), timeout=60, message="all forwarded")
        rows = _rows(cfg.historian.path)
    expected = _expected_vm(rows)
    await wait_for(lambda: _vm_counts_reach(victoria, expected), timeout=30, interval=0.5, message="TSDB visible")
    stored = _vm_points(victoria)
    duplicates = 0
    for pid, want in expected.items():
        have = stored[pid]
        counts = Counter(have)
        assert set(counts) == set(want), f"{pid}: lost or foreign points"
        duplicates += sum(n - 1 for n in counts.values())
        # per series, the distinct timestamps come in the historian's order
        seen = list(dict.fromkeys(t for t, _ in have))
        assert seen == [t for t, _ in want]
    assert duplicates <= 500, "at most one batch is sent twice"


async def test_broker_restart_loses_no_qos1_message_and_flags_replays(machines: Any, tmp_path: Path,
                                                                      mosquitto: Broker) -> None:
    scale = await machines(ScaleMachine, name="SCALE01", n=len(SCALE), rate_hz=2.0, seed=7)
    sub = PersistentSubscriber(mosquitto.port, "aas/#")
    try:
        cfg = parse_config(_config(tmp_path, None, mosquitto, asset("SCALE01", scale, SCALE),
                                   historical_after_s=2.0), env={})
        async with Gateway(cfg) as gw:
            fw = gw.forwarders[0]
            await wait_for(lambda: len(sub.received()) > 200, timeout=30, message="messages flowing")
            mosquitto.stop()
            await wait_for(lambda: fw.health.state == "retrying", timeout=30, message="outage noticed")
            outage_from = await gw.historian.max_seq()
            await asyncio.sleep(5)
            mosquitto.start()
            await wait_for(lambda: fw.health.state == "forwarding" and fw.health.lag == 0, timeout=60,
                           message="caught up after the broker restart")
            scale.pause()
            await wait_for(lambda: _caught_up(gw), timeout=60, message="all forwarded")
            rows = _rows(cfg.historian.path)
        want = {r[0] for r in rows}
        await wait_for(lambda: {p["seq"] for _, p in sub.received()} >= want, timeout=30,
                       message="every sample received")
    finally:
        sub.close()
    got = sub.received()
    assert {p["seq"] for _, p in got} == want, "zero QoS 1 messages lost"
    replayed = [p for _, p in got if p["historical"]]
    assert replayed, "samples held back by the outage are flagged historical"
    assert all(p["seq"] > outage_from - 1000 for p in replayed)


async def test_sigkill_during_forwarding_delivers_everything_committed(machines: Any, tmp_path: Path,
                                                                       victoria: VictoriaMetrics,
                                                                       mosquitto: Broker) -> None:
    scale = await machines(ScaleMachine, name="SCALE01", n=len(SCALE), rate_hz=5.0, seed=11)
    cfg_file = tmp_path / "gateway.yaml"
    cfg_file.write_text(yaml.safe_dump(_config(tmp_path, victoria, mosquitto, asset("SCALE01", scale, SCALE),
                                               batch_size=200)))
    db = tmp_path / "historian.sqlite"
    sub = PersistentSubscriber(mosquitto.port, "aas/#")

    async def start() -> Any:
        # the gateway's log goes to a file of the run: tests/secrets_check.py checks it for the InfluxDB token
        with open(tmp_path / "gateway-run.log", "ab") as log_file:  # noqa: ASYNC230 (opening a small local file)
            return await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg_file),
                                                        "--log-level", "INFO", stderr=log_file)

    try:
        proc = await start()
        await wait_for(lambda: len(sub.received()) > 500, timeout=60, message="forwarding under way")
        victoria.stop()  # the TSDB forwarder builds a backlog that the kill interrupts
        before = len(_rows(db))
        await wait_for(lambda: len(_rows(db)) > before + 200, timeout=30, message="a TSDB backlog")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        committed = _rows(db)
        scale.pause()  # nothing new: what must arrive is exactly what was committed before the kill
        victoria.restart()
        births = sub.births
        proc = await start()
        try:
            await wait_for(lambda: sub.births > births, timeout=60, message="the restarted gateway online")
            want = {r[0] for r in committed}
            await wait_for(lambda: {p["seq"] for _, p in sub.received()} >= want, timeout=60,
                           message="every committed sample over MQTT")
            await wait_for(lambda: _vm_has(victoria, committed), timeout=60, message="every sample in the TSDB")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        sub.close()


def _vm_counts_reach(vm: VictoriaMetrics, expected: dict[str, list[tuple[int, float]]]) -> bool:
    stored = _vm_points(vm)
    return all(len(stored.get(pid, [])) >= len(v) for pid, v in expected.items())


def _vm_has(vm: VictoriaMetrics, rows: list[tuple[int, str, int, Any, int]]) -> bool:
    stored = _vm_points(vm)
    return all(set(want) <= set(stored.get(pid, [])) for pid, want in _expected_vm(rows).items())


async def test_mqtt_sensor_feeds_an_asset_readable_over_the_api(tmp_path: Path, mosquitto: Broker) -> None:
    import base64

    import httpx

    from tests.mqtt.helpers import publish

    cfg: GatewayConfig = parse_config({
        "historian": {"path": str(tmp_path / "h.sqlite"), "commit_interval_ms": 50},
        "api": {"port": 0, "auth": {"anonymous_read": True}},
        "assets": [{
            "id_short": "TH01", "id": "urn:test:aas:TH01", "global_asset_id": "urn:test:asset:TH01",
            "source": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": mosquitto.port},
                       "topic": "sensors/th01", "timestamp_pointer": "/ts", "timestamp_format": "epoch_ms"},
            "points": [{"pointer": "/temp", "path": "Temperature", "type": "xs:double", "unit": "Cel"},
                       {"pointer": "/door", "path": "DoorOpen", "type": "xs:boolean"}],
        }]}, env={})
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10) as http:
        await asyncio.wait_for(gw.sources["TH01"].wait_connected(), 30)  # type: ignore[attr-defined]
        t0 = 1_790_000_000_000
        await asyncio.to_thread(publish, mosquitto.port, [
            ("sensors/th01", json.dumps({"ts": t0 + i * 1000, "temp": 20.0 + i, "door": i % 2 == 1}))
            for i in range(5)])
        sm = base64.urlsafe_b64encode(b"urn:test:aas:TH01:submodels:OperationalData").decode().rstrip("=")
        base = f"{gw.api_url}/submodels/{sm}/submodel-elements"

        async def latest() -> Any:
            r = await http.get(f"{base}/Temperature/$value")
            return r.json().get("Temperature") == 24.0

        await wait_for(latest, message="the last sensor value in the AAS")
        assert (await http.get(f"{base}/DoorOpen/$value")).json() == {"DoorOpen": False}

        async def history() -> Any:
            # the live value is visible at once, history once the historian's group commit ran (<= 200 ms)
            h = (await http.get(f"{base}/Temperature/history",
                                params={"from": "2026-09-21T00:00:00Z", "to": "2026-09-22T00:00:00Z"})).json()
            return h if len(h["samples"]) >= 5 else None

        hist = await wait_for(history, message="five committed sensor samples in the history")
        assert [s["value"] for s in hist["samples"]] == [20.0, 21.0, 22.0, 23.0, 24.0]
        assert hist["samples"][0]["sourceTimestamp"].startswith("2026-09-21T")
