"""The detection engine on the demo's machine models in simulated time, and the submodels it publishes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder

from aas_models import detection as dm
from connectors.sample import Sample
from gateway.config import GatewayConfig, load_config
from gateway.demo import DEMO_CONFIG
from gateway.detect.engine import AssetEngine
from gateway.detect.producer import DetectionProducer
from simulators.cnc import CncMachine
from simulators.faults import Fault, FaultPlan
from simulators.imm import ImmMachine
from simulators.server import MachineServer

NS = 1_000_000_000
T0 = 1_767_600_000 * NS
TEMPLATE = Path(__file__).with_name("idta_02048_elements.json")


def demo() -> GatewayConfig:
    return load_config(DEMO_CONFIG)


def drive(cfg: GatewayConfig, sim: MachineServer, seconds: int) -> tuple[AssetEngine, list[Sample]]:
    """Tick the model once a second for `seconds`, feeding changed values to the asset's engine."""
    asset = next(a for a in cfg.assets if a.id_short == sim.name)
    engine = AssetEngine(asset, next(d for d in cfg.detection.assets if d.asset == sim.name), cfg.detection)
    ids = {p.path: f"{sim.name}/{p.submodel}/{p.path}" for p in asset.points}
    out: list[Sample] = []
    for path, v in sim.values.items():
        if path in ids:
            engine.observe(Sample(ids[path], v, T0, T0, T0))
    out.extend(more(engine, sim, seconds))
    return engine, out


def more(engine: AssetEngine, sim: MachineServer, seconds: int) -> list[Sample]:
    """Go on ticking a model driven by `drive`."""
    ids = {p.path: f"{sim.name}/{p.submodel}/{p.path}" for p in demo().assets[0 if sim.name == "CNC01" else 1].points}
    out: list[Sample] = []
    for _ in range(seconds):
        changed = sim.tick()
        ts = T0 + int(sim.sim_time * NS)
        for path, v in changed.items():
            if path in ids:
                engine.observe(Sample(ids[path], v, ts, ts, ts))
        out.extend(engine.tick(ts))
    return out


def raised(out: list[Sample]) -> list[tuple[float, str]]:
    return [((s.ts - T0) / NS, json.loads(s.value)["payload"]["alarm"]) for s in out
            if s.point.endswith(".Event") and json.loads(s.value)["payload"]["transition"] == "raised"]


def test_heater_failure_on_the_moulding_machine_raises_the_zone_alarm_within_seconds() -> None:
    sim = ImmMachine(name="IMM01", seed=7, tick_s=1.0)
    sim.faults = FaultPlan([Fault("heater_failure", "Barrel.Zone2.Temperature", 2400.0, 2700.0)])
    _, out = drive(demo(), sim, 2460)
    alarms = raised(out)
    assert any(a == "Barrel_Zone2_Temperature" and 2400 <= t <= 2430 for t, a in alarms), alarms
    assert not [a for t, a in alarms if t < 2400 and a.startswith("Barrel")]  # nothing before the fault
    probs = [s.value for s in out if s.point.endswith("QualityPrediction/ScrapProbability")]
    assert len(probs) > 100 and all(0.0 <= p <= 1.0 for p in probs)  # one prediction per shot


def test_a_stopped_machine_is_not_an_anomaly() -> None:
    sim = ImmMachine(name="IMM01", seed=8, tick_s=1.0)
    engine, _ = drive(demo(), sim, 1500)
    sim.stop_production()  # idle: no shots, the mould cools, the counters stop
    ids = {p.path: f"IMM01/{p.submodel}/{p.path}" for p in demo().assets[1].points}
    later: list[Sample] = []
    for _ in range(1800):
        ts = T0 + int(sim.sim_time * NS) + NS
        for path, v in sim.tick().items():
            if path in ids:
                engine.observe(Sample(ids[path], v, ts, ts, ts))
        later.extend(engine.tick(ts))
    assert raised(later) == []
    statuses = [s.value for s in later if s.point.endswith("AnomalyDetection/Status")]
    assert statuses and statuses[-1] == "not operating"


def test_a_sensor_stuck_while_the_machine_is_stopped_is_found_where_its_signal_is_noisy() -> None:
    cfg = demo()
    sim = CncMachine(name="CNC01", seed=5, tick_s=1.0)
    engine, _ = drive(cfg, sim, 1800)  # operating, with the odd short stop
    sim.auto_acknowledge_s = None  # a long stop (an alarm nobody acknowledges): the detectors learn it
    sim.raise_alarm(999, "stopped by the test")
    more(engine, sim, 400)
    sim.acknowledge_alarm()
    sim.auto_acknowledge_s = 90.0
    more(engine, sim, 600)
    sim.auto_acknowledge_s = None
    sim.raise_alarm(999, "stopped by the test")
    start = sim.sim_time
    sim.faults = FaultPlan([Fault("stuck", "Coolant.Temperature", start + 60, start + 600)])
    during = raised(more(engine, sim, 300))
    coolant = engine.alarms["Coolant_Temperature"]
    assert coolant.active and coolant.cause == "stuck"
    # found about 30 s after it stuck, although the machine does not operate: the coolant is noisy in every state
    assert any(a == "Coolant_Temperature" and start + 60 < t < start + 100 for t, a in during), during
    # the stopped spindle's load is flat at 0, which is normal there: never judged stuck while stopped
    assert not [a for _, a in during if a != "Coolant_Temperature"], during
    assert engine.signals[1].detector.silence.limit_for("Alarm") is None
    assert engine.signals[3].detector.silence.limit_for("Alarm") is not None


def _paths(element: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    children: list[Any] = []
    if isinstance(element, model.Submodel):
        children = list(element.submodel_element)
    elif isinstance(element, model.SubmodelElementCollection | model.SubmodelElementList):
        children = list(element.value)
    elif isinstance(element, model.Entity):
        children = list(element.statement)
    in_list = isinstance(element, model.SubmodelElementList)  # list items have no idShort (BaSyx makes one up)
    for c in children:
        p = f"{prefix}[]" if in_list else (f"{prefix}.{c.id_short}" if prefix else c.id_short)
        out.append((p, c))
        out.extend(_paths(c, p))
    return out


def test_predictive_maintenance_submodel_follows_idta_02048() -> None:
    prod = DetectionProducer(demo())
    template = json.loads(TEMPLATE.read_text())
    by_path = {e["path"]: e for e in template["elements"]}
    sms = [sm for m in prod.models() for sm in m.submodels if sm.id_short.startswith(dm.PDM_PREFIX)]
    assert {sm.id_short for sm in sms} == {"PredictiveMaintenance_Tool", "PredictiveMaintenance_SpindleBearing"}
    for sm in sms:
        assert sm.semantic_id is not None and sm.semantic_id.key[0].value == template["submodelSemanticId"]
        ours = dict(_paths(sm))
        for path, el in ours.items():
            t = by_path.get(re.sub(r"\[\d+\]", "[]", path))
            if el.semantic_id is not None and el.semantic_id.key[0].value.startswith("https://admin-shell.io/idta/"):
                assert t is not None, f"{path} is not in the template"
                assert el.semantic_id.key[0].value == t["semanticId"], path
                assert type(el).__name__ == t["modelType"], path
                if t["valueType"]:
                    assert model.datatypes.XSD_TYPE_NAMES[el.value_type] == t["valueType"], path
        for t in template["elements"]:  # what the template requires is there
            if t["cardinality"] in ("One", "OneToMany"):
                assert t["path"] in ours, f"required {t['path']} missing"


def test_detection_submodels_serialise_and_alarms_carry_event_elements() -> None:
    prod = DetectionProducer(demo())
    for m in prod.models():
        for sm in m.submodels:
            json.dumps(sm, cls=AASToJsonEncoder)  # BaSyx accepts every element
    imm = next(m for m in prod.models() if m.asset == "IMM01")
    anomaly = next(sm for sm in imm.submodels if sm.id_short == dm.ANOMALY_SM)
    alarms = anomaly.get_referable("Alarms")
    assert isinstance(alarms, model.SubmodelElementCollection)
    alarm = alarms.get_referable("Barrel_Zone1_Temperature")
    assert isinstance(alarm, model.SubmodelElementCollection)
    event = alarm.get_referable("Event")
    assert isinstance(event, model.BasicEventElement) and event.direction == model.Direction.OUTPUT
    assert event.observed.key[-1].value == "State"
    watches = alarm.get_referable("Watches")
    assert isinstance(watches, model.ReferenceElement) and watches.value is not None
    assert watches.value.key[-1].value == "Temperature"
    writable = [p for p in prod.points() if p.writable]
    assert writable and all(p.path.endswith(".Acknowledged") for p in writable)
    assert all(p.event for p in prod.points() if p.path.endswith(".Event"))
