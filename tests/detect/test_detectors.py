"""The detection logic on its own (no server, no clock): detectors, alarms, classifier, RUL, state file, config."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from gateway.config import ConfigError, parse_config
from gateway.detect import state
from gateway.detect.alarms import Alarm, Transition
from gateway.detect.config import PRESETS, DetectorParams, RulConfig, SignalConfig
from gateway.detect.quality import OnlineLogit
from gateway.detect.robust import RobustWindow
from gateway.detect.rul import RulEstimator
from gateway.detect.signal import SignalDetector

NS = 1_000_000_000


def feed(det: SignalDetector, values: list[float], t0: int = 0, judge: bool = True) -> int:
    """One reading a second; returns the time after the last."""
    t = t0
    for v in values:
        det.observe(v, v, t, t, judge)
        t += NS
    return t


def noise(n: int, mean: float = 200.0, sd: float = 0.15, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [round(mean + rng.gauss(0, sd), 2) for _ in range(n)]


def fresh(**overrides: object) -> SignalDetector:
    params = DetectorParams(**{"min_samples": 60, "min_blocks": 10, **overrides})  # type: ignore[arg-type]
    return SignalDetector("Zone1", params)


def test_robust_spread_covers_both_modes_of_a_bimodal_signal() -> None:
    w = RobustWindow(1000)
    rng = random.Random(2)
    for i in range(1000):  # a spindle cutting 80 % of the time (1.9 mm/s), idling 20 % (0.7 mm/s)
        w.add((1.9 if i % 5 else 0.7) + rng.gauss(0, 0.05))
    med, sigma = w.stats()
    assert med == pytest.approx(1.9, abs=0.05)
    assert abs(0.7 - med) / sigma < 5  # the idle mode is not a 12-sigma outlier


def test_spike_and_step_are_found_and_a_normal_signal_raises_nothing() -> None:
    det = fresh()
    t = feed(det, noise(900))
    assert det.ready and not det.check(t, True, 1.0).anomalous
    det.observe(215.0, 215.0, t, t, True)  # one wild reading
    v = det.check(t, True, 1.0)
    assert v.anomalous and v.cause in ("spike", "rate")
    t = feed(det, noise(60, seed=3), t + NS)  # the condition expires after hold_s
    assert not det.check(t, True, 1.0).anomalous
    t = feed(det, noise(5, mean=204.0, seed=4), t)  # a step of 4 degrees (27 sigma)
    assert det.check(t, True, 1.0).anomalous


def test_a_slow_drift_is_found_by_the_cusum() -> None:
    det = fresh(spike_z=None, level_z=None, rate_z=None)
    t = feed(det, noise(1800))
    drifted = [v + 0.005 * i for i, v in enumerate(noise(900, seed=5))]  # 0.3 degrees a minute
    found_at = None
    for i, v in enumerate(drifted):
        det.observe(v, v, t, t, True)
        if found_at is None and det.check(t, True, 1.0).cause == "drift":
            found_at = i
        t += NS
    assert found_at is not None and found_at < 600  # within 10 minutes


def test_stuck_is_silence_while_operating_and_nothing_while_stopped() -> None:
    det = fresh()
    t = feed(det, noise(300))
    assert not det.check(t + 20 * NS, True, 1.0).anomalous
    v = det.check(t + 40 * NS, True, 1.0)
    assert v.anomalous and v.cause == "stuck"
    det2 = fresh()
    t = feed(det2, noise(300))
    assert not det2.check(t + 600 * NS, False, 1.0).anomalous  # a stopped machine: silence is normal
    det2.no_evidence()  # a bad sample: no evidence of anything, silence included
    assert not det2.check(t + 600 * NS, True, 1.0).anomalous


def _stopped_then_stuck(noisy_when_stopped: bool) -> tuple[SignalDetector, int]:
    """Operating an hour and stopped 10 min twice (noisy or flat at 0 while stopped); then stopped again and the
    reported value stops changing. Returns the detector and the time the sensor stuck."""
    det = fresh()
    t = 0
    for cycle in range(2):
        det.enter_state("Running", t)
        t = feed(det, noise(3600, seed=10 + cycle), t)
        det.enter_state("Idle", t)
        t = feed(det, noise(600, mean=20.0, seed=20 + cycle) if noisy_when_stopped else [0.0] * 600, t, judge=False)
    det.enter_state("Running", t)
    t = feed(det, noise(600, seed=30), t)
    det.enter_state("Idle", t)
    t = feed(det, noise(20, mean=20.0, seed=40) if noisy_when_stopped else [0.0] * 20, t, judge=False)
    return det, t


def test_stuck_while_stopped_is_found_where_the_signal_is_noisy_in_that_state() -> None:
    det, t = _stopped_then_stuck(noisy_when_stopped=True)  # e.g. a temperature: noisy whatever the machine does
    assert det.silence.limit == 30.0  # learned: the signal changes about every second while stopped too
    for s in range(1, 25):
        assert not det.check(t + s * NS, False, 1.0).anomalous
    v = det.check(t + 40 * NS, False, 1.0)
    assert v.anomalous and v.cause == "stuck"


def test_stuck_while_stopped_is_not_judged_where_the_signal_is_flat_in_that_state() -> None:
    det, t = _stopped_then_stuck(noisy_when_stopped=False)  # e.g. a stopped spindle's load: 0, flat
    rec = det.silence.records["Idle"]
    assert rec.seen_s >= 1200 and rec.quiet_s > 0.9 * rec.seen_s
    assert det.silence.limit is None
    assert not any(det.check(t + s * 10 * NS, False, 1.0).anomalous for s in range(1, 60))


def test_silence_judged_across_a_stop_counts_from_the_last_change() -> None:
    det, t = _stopped_then_stuck(noisy_when_stopped=True)
    det.enter_state("Running", t)
    t = feed(det, noise(600, seed=50), t)  # judged while operating; then it sticks and the machine stops 20 s later
    for s in range(20):
        det.check(t + s * NS, True, 1.0)
    det.enter_state("Idle", t + 20 * NS)
    assert not det.check(t + 25 * NS, False, 1.0).anomalous
    v = det.check(t + 32 * NS, False, 1.0)  # 31 s of silence in all, 11 of them stopped
    assert v.anomalous and v.cause == "stuck"


def test_silence_that_raised_stuck_is_not_learned_as_normal() -> None:
    det, t = _stopped_then_stuck(noisy_when_stopped=True)
    before = det.silence.records["Idle"].quiet_s
    for s in range(1, 300):
        det.check(t + s * NS, False, 1.0)
    det.observe(21.0, 21.0, t + 300 * NS, t + 300 * NS, False)  # the sensor works again
    assert det.silence.records["Idle"].quiet_s == before and det.silence.limit == 30.0


def test_readings_that_may_not_be_judged_are_not_learned() -> None:
    det = fresh()
    feed(det, noise(300), judge=False)
    assert not det.ready


def test_presets_and_overrides() -> None:
    sig = SignalConfig(point="X", preset="cyclic", params={"cusum_h": 20.0, "disable": ["stuck"]})
    p = sig.detector_params()
    assert p.cusum_h == 20.0 and p.stuck_min_s is None and p.level_z is None
    assert PRESETS["steady"].level_z is not None


def test_detector_state_round_trip() -> None:
    det = fresh()
    t = feed(det, noise(900))
    snap = json.loads(json.dumps(det.snapshot()))
    again = fresh()
    again.restore(snap)
    assert again.ready and again.samples.snapshot() == det.samples.snapshot()
    again.observe(215.0, 215.0, t, t, True)
    assert again.check(t, True, 1.0).anomalous


def test_per_state_silence_survives_a_round_trip() -> None:
    det, _ = _stopped_then_stuck(noisy_when_stopped=True)
    again = fresh()
    again.restore(json.loads(json.dumps(det.snapshot())))
    assert again.silence.snapshot() == det.silence.snapshot()
    again.enter_state("Idle", 0)
    again.observe(20.0, 20.0, 0, 0, False)
    assert again.silence.limit == 30.0  # judged while stopped at once: no new learning window
    old = det.snapshot()
    del old["silence"]  # a file saved before silence was learned per state still loads
    fresh().restore(json.loads(json.dumps(old)))


def test_alarm_life_cycle_after_isa_18_2() -> None:
    a = Alarm("A", 500, "x", clear_after_s=30)

    def kind(t: Transition | None) -> str | None:
        return t.kind if t is not None else None

    assert kind(a.update(True, "spike", "m", 0)) == "raised" and a.state == "Unacknowledged"
    assert a.update(False, None, "", 10 * NS) is None  # not yet: hysteresis
    assert kind(a.update(False, None, "", 41 * NS)) == "cleared" and a.state == "ClearedUnacknowledged"
    assert kind(a.acknowledge(50 * NS)) == "acknowledged" and a.state == "Normal"
    assert a.acknowledge(51 * NS) is None  # nothing to acknowledge
    a.update(True, "level", "m", 60 * NS)
    a.acknowledge(61 * NS)
    assert a.state == "Acknowledged" and a.active
    a.update(False, None, "", 70 * NS)
    assert kind(a.update(False, None, "", 101 * NS)) == "cleared" and a.state == "Normal"


def test_scrap_classifier_ranks_cycles_outside_the_window_higher() -> None:
    rng = random.Random(3)
    model = OnlineLogit(2, learning_rate=1.0)
    scored = []
    for i in range(3000):
        temp_dev = rng.gauss(0, 0.2) if rng.random() < 0.9 else rng.choice([-1, 1]) * rng.uniform(3, 10)
        pressure = 650 + rng.gauss(0, 2)
        scrap = rng.random() < (0.6 if abs(temp_dev) > 2 else 0.02)
        p = model.predict([temp_dev, pressure])
        if i > 500:
            scored.append((p, scrap))
        model.learn([temp_dev, pressure], scrap)
    pos = [p for p, y in scored if y]
    neg = [p for p, y in scored if not y]
    auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
    assert auc > 0.8
    mean_p = sum(p for p, _ in scored) / len(scored)
    rate = sum(y for _, y in scored) / len(scored)
    assert mean_p == pytest.approx(rate, abs=0.05)  # calibrated despite the class weighting


def test_rul_of_a_linear_wear_trend_with_an_interval() -> None:
    est = RulEstimator(RulConfig(name="Tool", point="Tool.Wear", limit=100.0, window_s=120, horizon_s=60))
    rng = random.Random(1)
    for t in range(200):
        est.observe(0.25 * t + rng.gauss(0, 0.05), float(t))  # 0.25 %/s: 100 % at t = 400 s
    r = est.estimate(199.0)
    assert r is not None and r.rul_s == pytest.approx(201, rel=0.01)
    assert r.low_s < r.rul_s < r.high_s
    assert r.failure_probability < 0.01  # 200 s left, horizon 60 s
    assert est.observe(1.0, 200.0)  # a new tool: the fall is a replacement
    assert est.estimate(200.0) is None


def test_state_file_is_atomic_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "detect-state.json"
    assert state.load(path) is None
    state.save(path, {"A": {"x": 1}}, 5)
    assert state.load(path) == {"A": {"x": 1}}
    assert not (tmp_path / "detect-state.json.tmp").exists()
    path.write_text("{not json")
    assert state.load(path) is None and not path.exists()
    assert len(list(tmp_path.glob("detect-state.json.unreadable-*"))) == 1


def _cfg(detection: dict[str, object]) -> dict[str, object]:
    return {"assets": [{"id_short": "M1", "id": "urn:x:M1", "global_asset_id": "urn:x:a:M1",
                        "source": {"endpoint": "opc.tcp://127.0.0.1:4840/", "security": {"policy": "None",
                                                                                         "mode": "None"}},
                        "points": [{"node": "s=T", "path": "T", "type": "xs:double"},
                                   {"node": "s=S", "path": "S", "type": "xs:string"}]}],
            "detection": detection}


def test_bad_references_name_the_key() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(_cfg({"assets": [{"asset": "M1", "signals": [{"point": "Nope"}]}]}), env={})
    assert "detection.assets[0].signals[0].point" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(_cfg({"assets": [{"asset": "M1", "signals": [{"point": "S"}]}]}), env={})
    assert "not a numeric type" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(_cfg({"assets": [{"asset": "M9"}]}), env={})
    assert "detection.assets[0].asset" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(_cfg({"assets": [{"asset": "M1", "signals": [{"point": "T", "params": {"z": 1}}]}]}), env={})
    assert "unknown key" in str(e.value)
    cfg = parse_config(_cfg({"assets": [{"asset": "M1", "signals": [{"point": "T", "range": [0, 10]}]}]}), env={})
    assert cfg.detection.assets[0].signals[0].range == (0.0, 10.0)
    assert math.isfinite(cfg.detection.save_interval_s)
