"""The detection engine of one asset: samples in, derived samples out, time given by the caller.

Synchronous and clock-free on purpose: the gateway's producer (producer.py) feeds it live samples
and ticks it on the wall clock, and the benchmark (benchmarks/detect.py) feeds it simulated
machines in simulated time, hours in seconds, through exactly the same code.

It knows the machine state (readings while the machine does not operate, or while it settles
after starting, are neither judged nor learned: a stopped spindle is not an anomaly) and data
quality (a bad or uncertain sample is no evidence). Per tick it turns each detector's verdict into
its alarm's life cycle, runs the asset's multivariate detector on the signals' z-scores, checks
the expected scrap rate and the remaining useful life, and publishes scores, states and events.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from aas_models import detection as dm
from aas_models.ids import submodel_id
from connectors.base import WriteError
from connectors.sample import Sample, ns_to_datetime, ns_to_iso
from connectors.status import SEVERITY_MASK  # bad or uncertain
from gateway.config import AssetConfig
from gateway.derived import DerivedPoint
from gateway.detect.alarms import Alarm, Transition
from gateway.detect.config import (
    AssetDetectionConfig,
    DetectionConfig,
    RulConfig,
    SignalConfig,
    alarm_name,
    find_point,
)
from gateway.detect.quality import QualityPredictor
from gateway.detect.rul import RulEstimate, RulEstimator
from gateway.detect.signal import SignalDetector

if TYPE_CHECKING:
    from gateway.detect.multivariate import MultivariateDetector

log = logging.getLogger(__name__)

NS = 1_000_000_000
MULTIVARIATE = "Multivariate"
SCRAP_RATE = "ScrapRate"
RUL_PREFIX = "RemainingLife_"
_RUL_EVERY_S = 5.0
_UTIL_TAU_S = 3600.0
_MAX_EOL_S = 10 * 365 * 86400.0


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]


# detector parameters added after state files of version 1 were written: left out of a signal's fingerprint
# while not set, so a new parameter does not make every saved baseline look reconfigured (and relearn)
_PARAMS_ADDED_LATER = ("stuck_state_learn_s",)


def _signal_fingerprint(cfg: SignalConfig) -> str:
    dump = cfg.model_dump(mode="json")
    for key in _PARAMS_ADDED_LATER:
        if dump["params"].get(key) is None:
            dump["params"].pop(key, None)
    return _fingerprint(dump)


@dataclass
class _Signal:
    cfg: SignalConfig
    path: str
    point_id: str
    detector: SignalDetector
    alarm: Alarm
    setpoint_id: str | None = None
    setpoint: float | None = None
    condition_id: str | None = None
    condition_step: float = 1.0
    condition: float | None = None
    settle_until: int = 0
    judging: bool = False
    residual: float | None = None


@dataclass
class _Rul:
    cfg: RulConfig
    point_id: str
    estimator: RulEstimator
    alarm: Alarm | None
    last: RulEstimate | None = None
    last_raw: float | None = None
    status: str = "learning"


@dataclass
class _Quality:
    predictor: QualityPredictor
    cycle_id: str
    scrap_id: str
    good_id: str | None
    features: dict[str, list[tuple[int, str | None]]]  # point id -> [(feature index, setpoint point id)]
    alarm: Alarm | None
    alarm_rate: float | None
    counts: dict[str, int] = field(default_factory=dict)  # counter point id -> last value
    setpoints: dict[str, float] = field(default_factory=dict)
    last_ts: int = 0  # newest source time of a counter: cycles and labels are matched on the machine's clock


class AssetEngine:
    def __init__(self, asset: AssetConfig, det: AssetDetectionConfig, settings: DetectionConfig) -> None:
        self.asset = asset.id_short
        self.aas_id = asset.id
        self.cfg = det
        self.tick_s = settings.tick_s
        self.score_interval_s = settings.score_interval_s
        self._routes: dict[str, list[Callable[[Sample], None]]] = {}
        self._out: list[Sample] = []
        self.alarms: dict[str, Alarm] = {}
        self._last_emitted: dict[str, Any] = {}
        self._next_score = 0
        self._next_rul = 0
        self.events_raised = 0

        def pid(ref: str) -> str:
            found = find_point(asset, ref)
            assert found is not None, ref  # checked with the config
            return f"{self.asset}/{found[0]}/{found[1]}"

        self._pid = pid
        # machine state
        self.state_id = pid(det.state.point) if det.state else None
        self.operating_values = set(det.state.operating) if det.state else set()
        self.settle_s = det.state.settle_s if det.state else 0.0
        self.operating = det.state is None  # unknown state: not judged until the first state sample
        self._settled_at = 0
        self._op_total_s = 0.0
        self._op_since: int | None = None
        self.utilisation = 1.0 if det.state is None else 0.0
        self._last_tick: int | None = None
        if self.state_id:
            self._route(self.state_id, self._on_state)

        # per-signal detectors
        self.signals: list[_Signal] = []
        for s in det.signals:
            found = find_point(asset, s.point)
            assert found is not None
            unit = next((p.unit for p in asset.points if p.submodel == found[0] and p.path == found[1]), None)
            name = alarm_name(found[1])
            w = _Signal(s, found[1], pid(s.point), SignalDetector(found[1], s.detector_params(), s.range, s.max_rate,
                                                                  unit),
                        self._alarm(name, s.severity, found[1], s.detector_params().clear_after_s),
                        pid(s.setpoint) if s.setpoint else None)
            if s.condition is not None:
                w.condition_id, w.condition_step = pid(s.condition.point), s.condition.step
                self._route(w.condition_id, partial(self._on_condition, w))
            self.signals.append(w)
            self._route(w.point_id, partial(self._on_signal, w))
            if w.setpoint_id:
                self._route(w.setpoint_id, partial(self._on_setpoint, w))
        by_path = {s.cfg.point: s for s in self.signals}

        # the multivariate detector
        self.mv_signals = [by_path[ref] for ref in det.multivariate_signals() if ref in by_path]
        self.mv: MultivariateDetector | None = None
        if det.multivariate.enabled and len(self.mv_signals) >= 2:
            # imported here: it needs numpy (~13 MB of RSS), which a gateway without it need not load
            from gateway.detect.multivariate import MultivariateDetector

            self.mv = MultivariateDetector([w.path for w in self.mv_signals], det.multivariate)
            self._alarm(MULTIVARIATE, det.multivariate.severity, "multivariate", 30.0)

        # quality prediction
        self.quality: _Quality | None = None
        if det.quality is not None:
            q = det.quality
            feats = q.feature_list()
            routes: dict[str, list[tuple[int, str | None]]] = {}
            for i, f in enumerate(feats):
                routes.setdefault(pid(f.point), []).append((i, pid(f.setpoint) if f.setpoint else None))
            self.quality = _Quality(
                QualityPredictor([f.agg for f in feats], q.rate_window, q.min_cycles, q.learning_rate, q.l2,
                                 q.good_counter is not None),
                pid(q.cycle_counter), pid(q.scrap_counter), pid(q.good_counter) if q.good_counter else None,
                routes, self._alarm(SCRAP_RATE, q.severity, "quality", 60.0) if q.alarm_rate else None,
                q.alarm_rate)
            for point in {*routes, *(sp for lst in routes.values() for _, sp in lst if sp)}:
                self._route(point, self._on_feature)
            for counter in (self.quality.cycle_id, self.quality.scrap_id, self.quality.good_id):
                if counter:
                    self._route(counter, self._on_counter)

        # remaining useful life
        self.ruls: list[_Rul] = []
        for r in det.rul:
            rr = _Rul(r, pid(r.point), RulEstimator(r),
                      self._alarm(RUL_PREFIX + r.name, r.severity, f"rul:{r.name}", 10.0) if r.pre_alert_s else None)
            self.ruls.append(rr)
            self._route(rr.point_id, partial(self._on_rul, rr))

    # --- construction helpers ----------------------------------------------------------------------------
    def _route(self, point_id: str, handler: Callable[[Sample], None]) -> None:
        self._routes.setdefault(point_id, []).append(handler)

    def _alarm(self, name: str, severity: int, source: str, clear_after_s: float) -> Alarm:
        a = Alarm(name, severity, source, clear_after_s)
        self.alarms[name] = a
        return a

    def out_id(self, submodel: str, path: str) -> str:
        return f"{self.asset}/{submodel}/{path}"

    def alarm_point(self, alarm: str, element: str) -> str:
        return self.out_id(dm.ANOMALY_SM, f"{dm.ALARMS}.{alarm}.{element}")

    # --- what it publishes -----------------------------------------------------------------------------
    def points(self) -> list[DerivedPoint]:
        a = self.asset
        pts = [DerivedPoint(self.out_id(dm.ANOMALY_SM, p), a, dm.ANOMALY_SM, p, vt)
               for p, vt, _ in dm.ANOMALY_PROPERTIES]
        for name in self.alarms:
            for el, vt, _ in dm.ALARM_PROPERTIES:
                path = f"{dm.ALARMS}.{name}.{el}"
                pts.append(DerivedPoint(self.out_id(dm.ANOMALY_SM, path), a, dm.ANOMALY_SM, path, vt,
                                        writable=el == "Acknowledged"))
            path = f"{dm.ALARMS}.{name}.Event"
            pts.append(DerivedPoint(self.out_id(dm.ANOMALY_SM, path), a, dm.ANOMALY_SM, path, "xs:string", event=True))
        if self.quality is not None:
            pts += [DerivedPoint(self.out_id(dm.QUALITY_SM, p), a, dm.QUALITY_SM, p, vt)
                    for p, vt, _ in dm.QUALITY_PROPERTIES]
        for r in self.ruls:
            sm = dm.PDM_PREFIX + r.cfg.name
            for key, (path, vt) in dm.PDM_VALUES.items():
                unit = "s" if key.startswith("Duration") else (r.cfg.unit if key == "IndicatorValue" else None)
                pts.append(DerivedPoint(self.out_id(sm, path), a, sm, path, vt, unit))
        return pts

    def model_specs(self) -> tuple[list[dm.AlarmModelSpec], bool, list[dm.RulModelSpec]]:
        alarms = []
        for name, al in self.alarms.items():
            if al.source == "multivariate":
                desc, watched = f"Joint behaviour of {', '.join(w.path for w in self.mv_signals)}", None
            elif al.source == "quality":
                desc, watched = "Expected scrap rate above its limit", None
            elif al.source.startswith("rul:"):
                desc, watched = f"Remaining useful life of {al.source[4:]} below its pre-alert", None
            else:
                desc = f"Anomalies of {al.source}"
                sig = next(w for w in self.signals if w.path == al.source)
                watched = (submodel_id(self.aas_id, sig.point_id.split("/")[1]), al.source)
            alarms.append(dm.AlarmModelSpec(name, al.severity, desc, watched))
        ruls = [dm.RulModelSpec(r.cfg.name, r.point_id.split("/", 2)[2], r.cfg.limit, r.cfg.unit, r.cfg.model,
                                r.cfg.window_s, r.cfg.horizon_s, r.cfg.pre_alert_s) for r in self.ruls]
        return alarms, self.quality is not None, ruls

    def routes(self) -> list[str]:
        return list(self._routes)

    # --- input -------------------------------------------------------------------------------------------
    def observe(self, s: Sample) -> None:
        for handler in self._routes.get(s.point, ()):
            handler(s)

    def _on_state(self, s: Sample) -> None:
        if s.status & SEVERITY_MASK or s.value is None:
            return  # unknown state: keep the last known one
        rx = s.received_ts
        for w in self.signals:  # silence is learned and judged per state (gateway/detect/silence.py)
            w.detector.enter_state(str(s.value), rx)
        operating = str(s.value) in self.operating_values
        if operating == self.operating:
            return
        if operating:
            self._op_since = rx
            self._settled_at = rx + int(self.settle_s * NS)
        else:
            if self._op_since is not None:
                self._op_total_s += max(0.0, (rx - self._op_since) / NS)
            self._op_since = None
        self.operating = operating

    def _judge(self, w: _Signal, rx: int) -> bool:
        return self.operating and rx >= self._settled_at and rx >= w.settle_until

    @staticmethod
    def _set_judging(w: _Signal, judge: bool, rx: int) -> None:
        if judge and not w.judging:
            w.detector.resume(rx)
        elif not judge and w.judging:
            w.detector.pause()
        w.judging = judge

    def op_seconds(self, rx: int) -> float:
        """Operating seconds so far (the clock RUL is measured in)."""
        if self._op_since is not None and self.operating:
            return self._op_total_s + max(0.0, (rx - self._op_since) / NS)
        return self._op_total_s

    def _on_signal(self, w: _Signal, s: Sample) -> None:
        if s.status & SEVERITY_MASK or s.value is None:
            w.detector.no_evidence(s.received_ts)
            return
        value = float(s.value)
        if w.setpoint_id is not None:
            if w.setpoint is None:
                return  # the residual needs the setpoint
            residual = value - w.setpoint
        else:
            residual = value
        bucket = None
        if w.condition_id is not None:
            if w.condition is None:
                return  # the operating point is not known yet
            bucket = round(w.condition / w.condition_step)
        judge = self._judge(w, s.received_ts)
        self._set_judging(w, judge, s.received_ts)
        w.residual = residual
        # a signal with a baseline per operating point (bucket) is judged reading by reading as soon as the
        # machine operates, without the settling time: the operating point already says what is normal
        w.detector.observe(value, residual, s.ts, s.received_ts, judge, bucket,
                           judge_readings=self.operating and s.received_ts >= w.settle_until
                           if bucket is not None else None)

    def _on_condition(self, w: _Signal, s: Sample) -> None:
        if s.status & SEVERITY_MASK or s.value is None:
            w.condition = None
            return
        w.condition = float(s.value)

    def _on_setpoint(self, w: _Signal, s: Sample) -> None:
        if s.status & SEVERITY_MASK or s.value is None:
            return
        v = float(s.value)
        if w.setpoint is not None and v != w.setpoint:
            # a new setpoint: the process moves to it; judge again once it had time to settle
            w.settle_until = s.received_ts + int(self.settle_s * NS)
            w.detector.discontinuity()
        w.setpoint = v

    def _on_feature(self, s: Sample) -> None:
        q = self.quality
        assert q is not None
        if s.status & SEVERITY_MASK or s.value is None:
            return
        v = float(s.value)
        q.setpoints[s.point] = v
        # unlike the anomaly detectors, no settling time: start-up scrap is what start-up values predict
        for i, sp in q.features.get(s.point, ()):
            if sp is None:
                q.predictor.feature(i, v)
            elif sp in q.setpoints:
                q.predictor.feature(i, v - q.setpoints[sp])

    def _on_counter(self, s: Sample) -> None:
        q = self.quality
        assert q is not None
        if s.status & SEVERITY_MASK or s.value is None:
            return
        v = int(s.value)
        q.last_ts = max(q.last_ts, s.ts)
        last = q.counts.get(s.point)
        q.counts[s.point] = v
        if last is None or v <= last:
            return  # first reading, or the counters were reset
        if s.point == q.cycle_id:
            pred = q.predictor.end_cycle(s.ts)
            self._emit(self.out_id(dm.QUALITY_SM, "ScrapProbability"), pred.probability, s.ts, s.received_ts)
            self._emit(self.out_id(dm.QUALITY_SM, "ExpectedScrapRate"), pred.expected_rate, s.ts, s.received_ts)
        elif s.point == q.scrap_id:
            for _ in range(min(v - last, 10)):
                q.predictor.label(s.ts, True)
        elif s.point == q.good_id:
            for _ in range(min(v - last, 10)):
                q.predictor.label(s.ts, False)

    def _on_rul(self, r: _Rul, s: Sample) -> None:
        if s.status & SEVERITY_MASK or s.value is None:
            return
        v = float(s.value)
        r.last_raw = v
        if r.estimator.observe(v, self.op_seconds(s.received_ts)):
            r.last = None

    # --- output ------------------------------------------------------------------------------------------
    def _emit(self, point_id: str, value: Any, ts: int, rx: int, *, dedup: bool = False) -> None:
        if dedup and self._last_emitted.get(point_id, _MISSING) == value:
            return
        self._last_emitted[point_id] = value
        self._out.append(Sample(point_id, value, ts, None, rx))

    def _publish_alarm(self, al: Alarm, t: Transition | None, now: int, *, force: bool = False) -> None:
        if t is None and not force:
            return
        p = self.alarm_point
        d = True
        self._emit(p(al.name, "State"), al.state, now, now, dedup=d)
        self._emit(p(al.name, "Active"), al.active, now, now, dedup=d)
        self._emit(p(al.name, "Acknowledged"), al.acknowledged, now, now, dedup=d)
        self._emit(p(al.name, "Cause"), al.cause, now, now, dedup=d)
        self._emit(p(al.name, "Message"), al.message, now, now, dedup=d)
        if t is not None and t.kind != "updated":  # events are life-cycle transitions; a new cause is a new Message
            if t.kind == "raised":
                self.events_raised += 1
            payload = {"alarm": al.name, "transition": t.kind, "state": al.state, "active": al.active,
                       "acknowledged": al.acknowledged, "severity": al.severity, "cause": al.cause,
                       "message": al.message, "source": al.source,
                       "raised": ns_to_iso(al.raised_ns) if al.raised_ns else None,
                       "cleared": ns_to_iso(al.cleared_ns) if al.cleared_ns else None}
            msg = dm.event_message(self.aas_id, al.name, ns_to_iso(now), payload)
            self._out.append(Sample(p(al.name, "Event"), json.dumps(msg, separators=(",", ":"), ensure_ascii=False),
                                    now, None, now))

    def initial(self, now: int) -> list[Sample]:
        """The whole current state, once at start (restored alarms included), so the model shows it."""
        for al in self.alarms.values():
            self._publish_alarm(al, None, now, force=True)
        self._status(now)
        return self.take()

    def take(self) -> list[Sample]:
        out, self._out = self._out, []
        return out

    def _status(self, now: int) -> None:
        if self.state_id is not None and not self.operating:
            status = "not operating"
        elif now < self._settled_at:
            status = "settling"
        elif not all(w.detector.ready for w in self.signals) or (self.mv is not None and not self.mv.ready):
            status = "learning"
        else:
            status = "monitoring"
        self._emit(self.out_id(dm.ANOMALY_SM, "Status"), status, now, now, dedup=True)
        self._emit(self.out_id(dm.ANOMALY_SM, "ActiveAlarms"), sum(a.active for a in self.alarms.values()),
                   now, now, dedup=True)
        q = self.quality
        if q is not None:
            self._emit(self.out_id(dm.QUALITY_SM, "Status"), "predicting" if q.predictor.trained else "learning",
                       now, now, dedup=True)

    def tick(self, now: int) -> list[Sample]:
        """Evaluate everything at `now` (ns, the gateway's clock); returns the derived samples to publish."""
        dt = (now - self._last_tick) / NS if self._last_tick is not None else 0.0
        self._last_tick = now
        if dt > 0:
            a = 1.0 - math.exp(-dt / _UTIL_TAU_S)
            self.utilisation += a * ((1.0 if self.operating else 0.0) - self.utilisation)
        for w in self.signals:
            judge = self._judge(w, now)
            self._set_judging(w, judge, now)
            v = w.detector.check(now, judge, self.tick_s)
            self._publish_alarm(w.alarm, w.alarm.update(v.anomalous, v.cause, v.message, now), now)
        if self.mv is not None:
            self._multivariate(now)
        if self.quality is not None:
            self._quality(now)
        if self.ruls and now >= self._next_rul:
            self._next_rul = now + int(_RUL_EVERY_S * NS)
            for r in self.ruls:
                self._rul(r, now)
        if now >= self._next_score:
            self._next_score = now + int(self.score_interval_s * NS)
            top = 0.0
            for w in self.signals:
                s = w.detector.take_score()
                top = max(top, s)
                self._emit(self.alarm_point(w.alarm.name, "Score"), round(s, 4), now, now, dedup=True)
            if self.mv is not None:
                s = self.mv.take_score()
                top = max(top, s)
                self._emit(self.alarm_point(MULTIVARIATE, "Score"), round(s, 4), now, now, dedup=True)
            self._emit(self.out_id(dm.ANOMALY_SM, "AnomalyScore"), round(top, 4), now, now)
        self._status(now)
        return self.take()

    def _multivariate(self, now: int) -> None:
        assert self.mv is not None
        al = self.alarms[MULTIVARIATE]
        anomalous = False
        if all(w.judging and w.residual is not None and w.detector.ready for w in self.mv_signals):
            z = [w.detector.zscore(w.residual) for w in self.mv_signals]  # type: ignore[arg-type]
            anomalous = self.mv.step([x for x in z if x is not None]) if None not in z else False
        else:
            self.mv.pause()
        self._publish_alarm(al, al.update(anomalous, "multivariate", f"{self.asset}: {self.mv.describe()}", now), now)

    def _quality(self, now: int) -> None:
        q = self.quality
        assert q is not None
        q.predictor.expire(q.last_ts)
        rate = q.predictor.observed_rate
        if rate is not None:
            self._emit(self.out_id(dm.QUALITY_SM, "ObservedScrapRate"), round(rate, 4), now, now, dedup=True)
        self._emit(self.out_id(dm.QUALITY_SM, "CyclesLearned"), q.predictor.model.learned, now, now, dedup=True)
        if q.alarm is not None and q.alarm_rate is not None:
            expected = sum(q.predictor.recent_p) / len(q.predictor.recent_p) if q.predictor.recent_p else 0.0
            high = q.predictor.trained and expected >= q.alarm_rate
            msg = f"{self.asset}: expected scrap rate {expected:.0%} (limit {q.alarm_rate:.0%})"
            self._publish_alarm(q.alarm, q.alarm.update(high, "scrap_rate", msg, now), now)

    def _rul(self, r: _Rul, now: int) -> None:
        sm = dm.PDM_PREFIX + r.cfg.name

        def out(key: str, value: Any) -> None:
            self._emit(self.out_id(sm, dm.PDM_VALUES[key][0]), value, now, now, dedup=key == "Status")

        est = r.estimator.estimate(self.op_seconds(now))
        limit_reached = r.last_raw is not None and (
            r.last_raw >= r.cfg.limit if r.cfg.direction == "up" else r.last_raw <= r.cfg.limit)
        if est is None:
            status = "limit reached" if limit_reached else "learning"
        elif est.rul_s == 0.0 or limit_reached:
            status = "limit reached"
        elif not math.isfinite(est.rul_s):
            status = "no trend"
        else:
            status = "predicting"
        r.status = status
        out("Status", status)
        self._emit(self.out_id(sm, dm.PDM_VALUES["MaintenanceRequired"][0]), limit_reached, now, now, dedup=True)
        if est is not None and math.isfinite(est.rul_s):
            r.last = est
            out("DurationValue", round(est.rul_s, 1))
            out("DurationLow", round(est.low_s, 1))
            if math.isfinite(est.high_s):
                out("DurationHigh", round(est.high_s, 1))
            out("FailureProbability", round(est.failure_probability, 4))
            out("IndicatorValue", round(est.value, 4))
            out("TrendRate", est.rate)
            out("StartDateTime", ns_to_datetime(now))
            eol_s = min(_MAX_EOL_S, est.rul_s / max(self.utilisation, 1e-3))
            out("EndOfLife", ns_to_datetime(now + int(eol_s * NS)))
        if r.alarm is not None and r.cfg.pre_alert_s is not None:
            low = limit_reached or (r.last is not None and est is not None and math.isfinite(est.rul_s)
                                    and est.rul_s < r.cfg.pre_alert_s)
            msg = (f"{self.asset}: {r.cfg.name} at its limit" if limit_reached else
                   f"{self.asset}: {r.cfg.name} has {est.rul_s:.0f} s of operation left"
                   if est is not None and math.isfinite(est.rul_s) else "")
            self._publish_alarm(r.alarm, r.alarm.update(low, "remaining_life", msg, now), now)

    # --- operator ----------------------------------------------------------------------------------------
    def acknowledge(self, point_id: str, value: object, now: int) -> list[Sample]:
        name = point_id.removeprefix(self.out_id(dm.ANOMALY_SM, f"{dm.ALARMS}.")).removesuffix(".Acknowledged")
        al = self.alarms.get(name)
        if al is None:
            raise WriteError("BadNodeIdUnknown", f"no alarm {name!r} on {self.asset}")
        if value is not True:
            raise WriteError("BadOutOfRange", "an alarm is acknowledged by writing true")
        t = al.acknowledge(now)
        if t is None:
            raise WriteError("BadInvalidState", f"alarm {name} has nothing to acknowledge (it is {al.state})")
        al.message = f"acknowledged by an operator; {al.message}" if al.message else "acknowledged by an operator"
        self._publish_alarm(al, t, now)
        self._status(now)
        return self.take()

    # --- persistence ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            "signals": {w.path: {"fp": _signal_fingerprint(w.cfg), "detector": w.detector.snapshot()}
                        for w in self.signals},
            "alarms": {name: a.snapshot() for name, a in self.alarms.items()},
            "op_total_s": self.op_seconds(self._last_tick or 0) if self._last_tick else self._op_total_s,
            "utilisation": self.utilisation,
        }
        if self.mv is not None:
            snap["multivariate"] = self.mv.snapshot()
        if self.quality is not None:
            snap["quality"] = {"fp": self._quality_fp(), "predictor": self.quality.predictor.snapshot()}
        snap["rul"] = {r.cfg.name: {"fp": _fingerprint(r.cfg.model_dump(mode="json")),
                                    "estimator": r.estimator.snapshot()} for r in self.ruls}
        return snap

    def _quality_fp(self) -> str:
        return _fingerprint(self.cfg.quality.model_dump(mode="json") if self.cfg.quality else None)

    def restore(self, snap: dict[str, Any]) -> list[str]:
        """Take over a saved state; returns what could not be restored (and learns afresh)."""
        problems: list[str] = []

        def attempt(what: str, fn: Callable[[Any], None], part: Any) -> None:
            try:
                fn(part)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                problems.append(f"{what}: {e or type(e).__name__}")

        signals = snap.get("signals") or {}
        for w in self.signals:
            entry = signals.get(w.path)
            if entry is None:
                continue
            if entry.get("fp") != _signal_fingerprint(w.cfg):
                problems.append(f"{w.path}: configuration changed")
                continue
            attempt(w.path, w.detector.restore, entry.get("detector"))
        for name, a in (snap.get("alarms") or {}).items():
            if name in self.alarms:
                attempt(f"alarm {name}", self.alarms[name].restore, a)
        self._op_total_s = float(snap.get("op_total_s") or 0.0)
        self.utilisation = float(snap.get("utilisation", self.utilisation))
        if self.mv is not None and "multivariate" in snap:
            attempt("multivariate", self.mv.restore, snap["multivariate"])
        q = self.quality
        if q is not None and "quality" in snap:
            qs = snap["quality"]
            if qs.get("fp") == self._quality_fp():
                attempt("quality", q.predictor.restore, qs.get("predictor"))
            else:
                problems.append("quality: configuration changed")
        for r in self.ruls:
            rs = (snap.get("rul") or {}).get(r.cfg.name)
            if rs is not None and rs.get("fp") == _fingerprint(r.cfg.model_dump(mode="json")):
                attempt(f"rul {r.cfg.name}", r.estimator.restore, rs.get("estimator"))
        return problems


_MISSING = object()
