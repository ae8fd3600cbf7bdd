"""Acceptance (issue 12): the demo's KPIs, end to end.

The demo's own config (deploy/example-config.yaml: CNC01 with the OPC 40001 preset, IMM01 with a
mapped state and EM01's energy register), the demo's simulators in their own process (secured
endpoints), the real gateway with its REST API on uvicorn, and two real northbound peers:
VictoriaMetrics (InfluxDB v2 write API) and Mosquitto. The KPI values must be readable over REST
($value, element, history), writable where they are operator inputs (audited), and arrive in
VictoriaMetrics and on MQTT.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from gateway.app import Gateway
from gateway.demo import demo_config, start_simulators, stop_process, with_endpoints
from tests.conftest import wait_for
from tests.influx.victoria import VictoriaMetrics
from tests.integration.conftest import api_key_headers
from tests.mqtt.broker import Broker

pytestmark = pytest.mark.slow


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


class Subscriber:
    def __init__(self, port: int, topic: str) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kpi-e2e")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 10)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
        if "/$" not in m.topic:
            with self._lock:
                self.messages[m.topic] = json.loads(m.payload)

    def get(self, topic: str) -> dict[str, Any] | None:
        with self._lock:
            return self.messages.get(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_demo_kpis_over_rest_in_victoria_metrics_and_on_mqtt(tmp_path: Path, victoria: VictoriaMetrics,
                                                                   mosquitto: Broker) -> None:
    cfg = demo_config(tmp_path / "demo")
    cfg = cfg.with_overrides({"api.port": 0, **{f"assets[{i}].kpi.update_interval_s": 1.0
                                                for i, a in enumerate(cfg.assets) if a.kpi is not None},
                              "forwarders": [
        {"name": "tsdb", "sink": {"type": "influxdb", "url": victoria.url, "org": "factory", "bucket": "line1",
                                  "token": "t"}},
        {"name": "uns", "sink": {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": mosquitto.port}, "qos": 1,
                                 "topic_prefix": "plant1/aas"}}]})
    proc, endpoints = await start_simulators(cfg, seed=3, pki_dir=tmp_path / "sim-pki")
    sub = Subscriber(mosquitto.port, "plant1/aas/CNC01/#")
    try:
        cfg = with_endpoints(cfg, endpoints)
        async with Gateway(cfg) as gw, httpx.AsyncClient(base_url=gw.api_url or "", timeout=10) as http:
            kpi_sm = b64("urn:aas-gateway:demo:aas:CNC01:submodels:ProductionKPIs")
            pvm_sm = b64("urn:aas-gateway:demo:aas:CNC01:submodels:ProcessVariablesForManufacturingKPICalculation")

            async def current_shift() -> dict[str, Any] | None:
                r = await http.get(f"/submodels/{kpi_sm}/submodel-elements/CurrentShift/$value")
                assert r.status_code == 200, r.text
                v = r.json()["CurrentShift"]
                # the machine state is known once the CNC is connected: production time accrues
                return v if v.get("ActualProductionTime", 0) > 0 and v.get("Coverage") is not None else None

            shift = await wait_for(current_shift, timeout=60, message="the current shift's KPIs over REST")
            assert 0 < shift["Availability"] <= 1 and shift["PlannedBusyTime"] > 0
            assert shift["Name"].endswith(("Day", "Swing", "Night"))

            # the element with its semanticId (ISO 22400-2 ontology) and live qualifiers
            r = await http.get(f"/submodels/{kpi_sm}/submodel-elements/CurrentShift.Availability")
            el = r.json()
            assert el["semanticId"]["keys"][0]["value"] == "http://www.w3id.org/hsu-aut/ISO22400-2#Availability"
            assert {q["type"]: q["value"] for q in el["qualifiers"]}["Quality"] == "Good"

            # the IDTA 02066 PVM: an xs:duration currentValue
            r = await http.get(f"/submodels/{pvm_sm}/submodel-elements/ActualProductionTime.currentValue/$value")
            assert r.status_code == 200 and r.json()["currentValue"].startswith("PT")

            # history of a KPI (the historian's series)
            async def history() -> list[dict[str, Any]] | None:
                r = await http.get(f"/submodels/{kpi_sm}/submodel-elements/CurrentShift.ActualProductionTime/history")
                samples = r.json().get("samples", [])
                return samples if len(samples) >= 2 else None

            samples = await wait_for(history, timeout=30, message="history of a KPI")
            assert samples[-1]["value"] >= samples[0]["value"]

            # an operator input: PATCH needs the operator role, is audited, stored and shown
            url = f"/submodels/{kpi_sm}/submodel-elements/Order.OrderId/$value"
            assert (await http.patch(url, json="ORD-4711")).status_code == 401
            r = await http.patch(url, json="ORD-4711", headers=api_key_headers(cfg, "operator"))
            assert r.status_code == 204, r.text
            r = await http.patch(f"/submodels/{kpi_sm}/submodel-elements/OperatorInputs.OperationMode/$value",
                                 json="Coffee", headers=api_key_headers(cfg, "operator"))
            assert r.status_code == 502 and "BadOutOfRange" in r.text
            assert "ORD-4711" in gw.audit.path.read_text()

            async def order_shown() -> bool:
                r = await http.get(f"/submodels/{kpi_sm}/submodel-elements/Order/$value")
                return r.json()["Order"].get("OrderId") == "ORD-4711" and "Start" in r.json()["Order"]

            await wait_for(order_shown, timeout=20, message="the order in the model")

            # VictoriaMetrics: the KPI series, with the values the historian holds
            async def in_vm() -> list[dict[str, Any]] | None:
                series = await asyncio.to_thread(
                    victoria.export, '{__name__="aas_value",asset="CNC01",submodel="ProductionKPIs"}')
                paths = {s["metric"]["path"] for s in series}
                # (OEE may still be undefined, BadNoData: no part finished yet; its status series is there)
                return series if {"CurrentShift.Availability", "CurrentShift.Coverage",
                                  "CurrentShift.ActualProductionTime"} <= paths else None

            series = await wait_for(in_vm, timeout=30, message="KPI series in VictoriaMetrics")
            apt = next(s for s in series if s["metric"]["path"] == "CurrentShift.ActualProductionTime")
            stored = await gw.historian.query("CNC01", "ProductionKPIs", "CurrentShift.ActualProductionTime",
                                              limit=10_000)
            by_ms = {r.ts // 1_000_000: r.value for r in stored if r.value is not None}
            assert apt["values"] and all(by_ms[t] == v for t, v in zip(apt["timestamps"], apt["values"], strict=True))

            # MQTT: the unified namespace carries the KPIs and the PVM
            topic = "plant1/aas/CNC01/ProductionKPIs/CurrentShift/Availability"
            msg = await wait_for(lambda: sub.get(topic), timeout=30, message=f"a message on {topic}")
            assert 0 <= msg["value"] <= 1 and msg["semanticId"].endswith("#Availability")
            pvm_topic = ("plant1/aas/CNC01/ProcessVariablesForManufacturingKPICalculation/"
                         "ActualProductionTime/currentValue")
            msg = await wait_for(lambda: sub.get(pvm_topic), timeout=30, message=f"a message on {pvm_topic}")
            assert msg["value"].startswith("PT")
    finally:
        sub.close()
        await stop_process(proc)
