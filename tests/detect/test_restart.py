"""A detector's learned baseline survives a gateway restart: no new learning window (issue 14 acceptance)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model

from gateway.app import Gateway
from gateway.detect.producer import DetectionProducer
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.detect.conftest import detect_config

MIN_SAMPLES = 300  # 30 s of readings at 10 Hz: a relearning window a test could not miss


def detection() -> dict[str, Any]:
    return {"tick_s": 0.2, "score_interval_s": 1.0, "assets": [{
        "asset": "CNC01",
        "state": {"point": "Machine.State", "operating": ["Running", "Idle", "Setup", "Alarm"], "settle_s": 0},
        # the coolant warms up for minutes after a start: no drift check in a test that short
        "signals": [{"point": "Coolant.Temperature", "params": {"min_samples": MIN_SAMPLES, "learn_every_s": 0.0,
                                                                 "disable": ["drift"]}}],
        "multivariate": {"enabled": False}}]}


def producer(gw: Gateway) -> DetectionProducer:
    return next(p for p in gw.producers if isinstance(p, DetectionProducer))


@pytest.mark.slow
async def test_learned_baseline_survives_a_restart(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=4)
    cfg = detect_config(tmp_path, cnc, detection())
    async with Gateway(cfg) as gw:
        det = producer(gw).engines["CNC01"].signals[0].detector
        await wait_for(lambda: det.ready, timeout=60, message="the baseline to be learned")
        learned = det.samples.stats()
    state_file = tmp_path / "detect-state.json"
    doc = json.loads(state_file.read_text())
    assert doc["format"] == "aas-gateway/detect-state" and doc["version"] == 1

    async with Gateway(cfg) as gw:
        prod = producer(gw)
        eng = prod.engines["CNC01"]
        det = eng.signals[0].detector
        # ready before a single new reading: the baseline came from the file
        assert det.ready and det.samples.stats() == learned
        at_start = det.samples.added
        alarm = eng.alarms["Coolant_Temperature"]

        await wait_for(lambda: _status(gw) == "monitoring", timeout=20, message="status monitoring")
        cnc.inject_fault("step", "Coolant.Temperature", 6.0, duration_s=600)
        await wait_for(lambda: alarm.active, timeout=20, message="the alarm on the injected step")
        # raised with fewer new readings than a fresh detector needs before it judges anything
        assert det.samples.added - at_start < MIN_SAMPLES
        assert alarm.cause in ("rate", "spike", "level")


def _status(gw: Gateway) -> Any:
    sm = next(s for s in gw.repository.submodels() if s.id_short == "AnomalyDetection")
    prop = sm.get_referable("Status")
    assert isinstance(prop, model.Property)
    return prop.value


async def test_a_state_file_of_another_version_is_set_aside(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=4)
    cfg = detect_config(tmp_path, cnc, detection())
    (tmp_path / "detect-state.json").write_text(json.dumps({"format": "aas-gateway/detect-state", "version": 99}))
    async with Gateway(cfg) as gw:  # starts anyway, learning afresh
        assert not producer(gw).engines["CNC01"].signals[0].detector.ready
        await wait_for(lambda: _status(gw) is not None, message="the detector's first status")
    assert [n for n in os.listdir(tmp_path) if n.startswith("detect-state.json.unreadable-")]
    assert json.loads((tmp_path / "detect-state.json").read_text())["version"] == 1  # saved anew at stop
