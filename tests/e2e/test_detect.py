"""End to end: an injected fault on a demo machine raises an alarm visible over REST and MQTT (real Mosquitto),
an operator acknowledges it (authorised and audited), it clears; the alarm's event log is its history.

The machine, its points and its detection settings are the demo's (deploy/example-config.yaml), on
an in-process simulator without OPC UA security; only the settling time after a start is shortened.
The detectors learn first from 40 minutes of the machine's readings in simulated time (as the
benchmark drives them), saved as their state file, which the gateway then restores: the test needs
no real-time learning window."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aas_models.ids import submodel_id
from connectors.sample import Sample
from gateway.app import Gateway
from gateway.config import load_config, parse_config
from gateway.demo import DEMO_CONFIG
from gateway.detect import state
from gateway.detect.engine import AssetEngine
from gateway.detect.producer import DetectionProducer
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers, source
from tests.mqtt.broker import Broker
from tests.mqtt.helpers import Subscriber

pytestmark = pytest.mark.slow


def _b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


@pytest.fixture
async def started() -> AsyncIterator[list[CncMachine]]:
    machines: list[CncMachine] = []
    yield machines
    for m in machines:
        await m.stop()


def demo_cnc_config(tmp_path: Path, cnc: CncMachine, broker: Broker) -> Any:
    demo = load_config(DEMO_CONFIG).model_dump(mode="json", exclude_none=True)
    asset = next(a for a in demo["assets"] if a["id_short"] == "CNC01")
    asset["source"] = source(cnc)
    asset.pop("nameplate", None)
    detection = next(d for d in demo["detection"]["assets"] if d["asset"] == "CNC01")
    detection["state"]["settle_s"] = 2.0
    return parse_config({
        "historian": {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 50},
        "api": {"enabled": True, "port": 0, "auth": {"anonymous_read": True}},
        "forwarders": [{"name": "uns", "sink": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port},
                                                "qos": 1}}],
        "detection": {"tick_s": 0.5, "assets": [detection]},
        "assets": [asset]}, env={})


async def test_injected_fault_alarm_rest_mqtt_acknowledge_clear(tmp_path: Path, mosquitto: Broker,
                                                                started: list[CncMachine]) -> None:
    cnc = CncMachine(name="CNC01", seed=21, port=0)
    learn_in_simulated_time(demo_cnc_config(tmp_path, cnc, mosquitto), cnc, minutes=40)
    await cnc.start()
    started.append(cnc)
    cfg = demo_cnc_config(tmp_path, cnc, mosquitto)  # now with the port the server got
    alarm_path = "Alarms.Coolant_Temperature"
    topic = f"aas/CNC01/AnomalyDetection/{alarm_path.replace('.', '/')}"
    sub = Subscriber(mosquitto.port, ["aas/CNC01/$events", f"{topic}/#"])
    try:
        async with Gateway(cfg) as gw:
            prod = next(p for p in gw.producers if isinstance(p, DetectionProducer))
            coolant = next(w for w in prod.engines["CNC01"].signals if w.path == "Coolant.Temperature")
            assert coolant.detector.ready and coolant.detector.diffs.added >= 120  # restored from the state file
            await wait_for(lambda: coolant.judging, timeout=30, message="the coolant judged")
            sm = _b64(submodel_id("urn:aas-gateway:demo:aas:CNC01", "AnomalyDetection"))
            async with httpx.AsyncClient(base_url=gw.api_url or "", timeout=10) as client:

                async def state() -> str:
                    r = await client.get(f"/submodels/{sm}/submodel-elements/{alarm_path}.State/$value")
                    assert r.status_code == 200, r.text
                    return str(r.json()["State"])

                assert await state() == "Normal"
                cnc.inject_fault("step", "Coolant.Temperature", 8.0, duration_s=20)
                await wait_for(lambda: _await(state, "Unacknowledged"), timeout=30, message="the alarm over REST")
                r = await client.get(f"/submodels/{sm}/submodel-elements/{alarm_path}/$value")
                alarm = r.json()[alarm_path.split(".")[-1]]
                assert alarm["Active"] is True and alarm["Acknowledged"] is False and alarm["Cause"]
                assert "Coolant.Temperature" in alarm["Message"]

                def event(transition: str) -> Any:
                    msgs = [m.json() for m in sub.on("aas/CNC01/$events")]
                    return next((m for m in msgs if m["payload"]["alarm"] == "Coolant_Temperature"
                                 and m["payload"]["transition"] == transition), None)

                raised = await wait_for(lambda: event("raised"), timeout=30, message="the raised event over MQTT")
                assert raised["topic"] == "aas/CNC01/$events" and raised["payload"]["state"] == "Unacknowledged"
                assert raised["observableReference"]["keys"][-1] == {"type": "Property", "value": "State"}
                state_topic = f"aas/CNC01/AnomalyDetection/{alarm_path.replace('.', '/')}/State"
                await wait_for(lambda: any(m.json()["value"] == "Unacknowledged" for m in sub.on(state_topic)),
                               timeout=30, message="the alarm state over MQTT")

                # acknowledging: an operator's write, refused without a key or with a reader's
                url = f"/submodels/{sm}/submodel-elements/{alarm_path}.Acknowledged/$value"
                assert (await client.patch(url, json=True)).status_code == 401
                assert (await client.patch(url, json=True, headers=api_key_headers(cfg, "reader"))).status_code == 403
                r = await client.patch(url, json=True, headers=api_key_headers(cfg, "operator"))
                assert r.status_code == 204, r.text
                assert await state() in ("Acknowledged", "Normal")
                await wait_for(lambda: event("acknowledged"), timeout=30, message="the acknowledged event")
                again = await client.patch(url, json=True, headers=api_key_headers(cfg, "operator"))
                assert again.status_code >= 400 and "nothing to acknowledge" in again.text
                records = [json.loads(line) for line in gw.audit.path.read_text().splitlines()]
                acks = [r for r in records if r.get("target", "").endswith(f"#{alarm_path}.Acknowledged")]
                assert [a["result"] for a in acks].count("ok") == 1 and acks[0]["actor"].startswith("apikey:")

                # the fault ends, the condition goes, the acknowledged alarm returns to normal
                await wait_for(lambda: _await(state, "Normal"), timeout=120, message="the alarm to clear")
                await wait_for(lambda: event("cleared"), timeout=30, message="the cleared event")
                hist = await client.get(f"/submodels/{sm}/submodel-elements/{alarm_path}.Event/history")
                assert hist.status_code == 200
                transitions = [json.loads(s["value"])["payload"]["transition"] for s in hist.json()["samples"]]
                assert transitions[:3] == ["raised", "acknowledged", "cleared"]
    finally:
        sub.close()


def learn_in_simulated_time(cfg: Any, cnc: CncMachine, minutes: float) -> None:
    """Drive the machine model and a detection engine of the same config in simulated time; save the state."""
    asset = cfg.assets[0]
    engine = AssetEngine(asset, cfg.detection.assets[0], cfg.detection)
    ids = {p.path: f"CNC01/{p.submodel}/{p.path}" for p in asset.points}
    t0 = time.time_ns() - int(minutes * 60e9)
    for path, value in cnc.values.items():
        if path in ids:
            engine.observe(Sample(ids[path], value, t0, t0, t0))
    for i in range(int(minutes * 60 / cnc.tick_s)):
        ts = t0 + int(cnc.sim_time * 1e9)
        for path, value in cnc.tick().items():
            if path in ids:
                engine.observe(Sample(ids[path], value, ts, ts, ts))
        if i % 5 == 0:
            engine.tick(ts)
    state.save(cfg.detection.resolved_state_path(cfg.historian.path), {"CNC01": engine.snapshot()}, time.time_ns())


async def _await(fn: Any, expected: str) -> bool:
    return bool(await fn() == expected)
