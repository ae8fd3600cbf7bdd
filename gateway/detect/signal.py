"""One signal's online detector: a learned baseline and the checks that compare each reading with it.

Two time scales, because faults come at two speeds. Each *reading* is compared with the median
and MAD of recent normal readings: a spike is one reading far out, a step is several in a row, a
rate fault is a change between two readings far outside the learned spread of changes. *Block
means* (averages over `block_s` seconds, which also average out a machine cycle) feed a two-sided
CUSUM against the median and MAD of recent normal block means: it accumulates small persistent
deviations, which is how a slow drift shows (Page's CUSUM, the standard sequential test for a
shift in mean). Stuck is silence: no change for much longer than the learned interval between
changes, while the machine operates; in the other machine states silence is judged only where the
signal showed itself noisy, by limits learned per state (silence.py). Range and maximum rate are
physical limits from the config.

The baseline learns only from readings that look normal (`learn_z`), so a fault is not learned
as the new normal while it lasts; a condition that lasts `rebaseline_after_s` is taken as a new
normal after all (a new product, a recalibrated sensor), and the detector learns afresh. The
caller says whether a reading may be judged at all (machine operating, settled, good quality):
readings that may not are no evidence either way and are not learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.detect.config import DetectorParams
from gateway.detect.robust import RobustWindow
from gateway.detect.silence import StateSilence

NS = 1_000_000_000

CAUSE_TEXT = {
    "spike": "a reading far outside the learned band",
    "level": "readings persistently outside the learned band (step)",
    "rate": "a change faster than ever learned",
    "drift": "a slow drift of the average (CUSUM)",
    "stuck": "the value stopped changing",
    "range": "outside its configured range",
    "max_rate": "a change faster than physically possible",
}


@dataclass(slots=True)
class Verdict:
    anomalous: bool
    cause: str | None
    message: str


class SignalDetector:
    def __init__(self, name: str, params: DetectorParams, value_range: tuple[float, float] | None = None,
                 max_rate: float | None = None, unit: str | None = None) -> None:
        self.name = name
        self.p = params
        self.range = value_range
        self.max_rate = max_rate
        self.unit = unit or ""
        self.samples = RobustWindow(params.window)
        self.buckets: dict[int, RobustWindow] = {}  # per operating point, for a conditioned signal
        self._bucket: int | None = None
        self._next_learn = 0  # source time from which the next reading may enter the baseline
        self.diffs = RobustWindow(params.window)
        self.blocks = RobustWindow(params.block_window)
        self.interval_s: float | None = None  # learned interval between changes (EWMA)
        self.quantum = math.inf  # smallest change seen: the sensor's resolution
        self.cusum_pos = 0.0
        self.cusum_neg = 0.0
        self._calm_blocks = 0
        self._block_sum = 0.0
        self._block_n = 0
        self._block_start: int | None = None
        self._last_r: float | None = None  # last judged residual (for rates)
        self._last_ts: int | None = None
        self._last_value: float | None = None
        self._last_change_rx: int | None = None  # for the learned interval (moved on by `resume`)
        self._changed_rx: int | None = None  # when the value last changed (or turned good): silence starts
        self._stuck_from: int | None = None  # since when silence is judged without a break (None: not judged)
        self.silence = StateSilence(params.stuck_min_s, params.stuck_factor, params.stuck_state_learn_s)
        self._good = False
        self._level_run = 0
        self._until: dict[str, int] = {}  # cause -> ns until which it holds
        self._evidence: dict[str, float] = {}  # cause -> the reading/statistic behind it (for the message)
        self._anomalous_since: int | None = None
        self.score = 0.0
        self.score_max = 0.0
        self.rebaselines = 0

    # --- state -----------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """A baseline is learned (for a conditioned signal: for the operating point of the last reading)."""
        return self._window(self._bucket).added >= self.p.min_samples

    @property
    def blocks_ready(self) -> bool:
        return self.blocks.added >= self.p.min_blocks

    def _scale(self, sigma: float, median: float) -> float:
        floor = max(self.p.min_scale, self.quantum if math.isfinite(self.quantum) else 0.0,
                    1e-9 * max(1.0, abs(median)))
        return max(sigma, floor)

    def _hold(self, cause: str, now: int, seconds: float, evidence: float) -> None:
        until = now + int(seconds * NS)
        if until > self._until.get(cause, 0):
            self._until[cause] = until
        self._evidence[cause] = evidence

    def _bump(self, score: float) -> None:
        self.score = score
        if score > self.score_max:
            self.score_max = score

    # --- readings --------------------------------------------------------------------------------------
    def no_evidence(self, rx: int | None = None) -> None:
        """A bad or uncertain reading (received at `rx`): nothing to judge, and silence since is not 'stuck'."""
        if self._good:
            self.silence.interrupted(rx)
        self._good = False
        self._level_run = 0
        self._last_r = None

    def pause(self) -> None:
        """The machine stopped or is settling: partial blocks and runs are dropped."""
        self._level_run = 0
        self._block_sum, self._block_n, self._block_start = 0.0, 0, None

    def discontinuity(self) -> None:
        """The judged quantity jumped for a known reason (a new setpoint): no rate across it."""
        self._last_r = None

    def enter_state(self, state: str, rx: int) -> None:
        """The machine entered `state` (its state point's value): silence is judged by that state's limit."""
        self.silence.enter(state, rx)

    def resume(self, now_rx: int) -> None:
        """Judging starts again: silence is counted from now, not from before the pause."""
        if self._last_change_rx is not None:
            self._last_change_rx = max(self._last_change_rx, now_rx)

    def _window(self, bucket: int | None) -> RobustWindow:
        if bucket is None:
            return self.samples
        w = self.buckets.get(bucket)
        if w is None:
            w = self.buckets[bucket] = RobustWindow(self.p.window)
        return w

    def observe(self, value: float, residual: float, ts: int, rx: int, judge: bool, bucket: int | None = None,
                judge_readings: bool | None = None) -> None:
        """A good reading: `residual` is what is judged (value, or value - setpoint); `ts` its source time,
        `rx` when the gateway received it (conditions and silence are timed on the gateway's clock).

        Physical checks (range, maximum rate, learned rate of change) hold in every machine state; the
        statistical ones (spike, level, drift) and all learning only while `judge` (operating, settled).
        `bucket` selects the baseline of the current operating point (a signal conditioned on another);
        `judge_readings` (default: `judge`) judges and learns single readings in other states too, which
        is right when that baseline already is per operating point.
        """
        changed = self._last_value is None or value != self._last_value or not self._good
        if changed:
            if self._last_value is not None and value != self._last_value:
                self.quantum = min(self.quantum, abs(value - self._last_value))
            if judge and self._last_change_rx is not None and self._good:
                iv = (rx - self._last_change_rx) / NS
                if iv > 0:
                    self.interval_s = iv if self.interval_s is None else 0.95 * self.interval_s + 0.05 * iv
            self._last_change_rx = rx
            self._changed_rx = rx
            self.silence.changed(rx)
        self._last_value = value
        self._good = True
        self._until.pop("stuck", None)
        self._bucket = bucket
        p = self.p
        score = 0.0
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            self._hold("range", rx, p.hold_s, value)
            score = max(score, 2.0)
        last_r, last_ts = self._last_r, self._last_ts
        self._last_r, self._last_ts = residual, ts
        d = residual - last_r if last_r is not None else None
        if self.max_rate is not None and d is not None and last_ts is not None and ts > last_ts:
            rate = abs(d) / ((ts - last_ts) / NS)
            if rate > self.max_rate:
                self._hold("max_rate", rx, p.hold_s, rate)
                score = max(score, rate / self.max_rate)
        if p.rate_z is not None and d is not None and self.diffs.added >= p.min_samples:
            dmed, dsigma = self.diffs.stats()
            zd = abs(d - dmed) / self._scale(dsigma, dmed)
            score = max(score, zd / p.rate_z)
            if zd > p.rate_z:
                self._hold("rate", rx, p.hold_s, zd)
        if not (judge if judge_readings is None else judge_readings):
            self._bump(score)
            return

        window = self._window(bucket)
        z = 0.0
        block_value = residual
        if window.added >= p.min_samples:
            med, sigma = window.stats()
            scale = self._scale(sigma, med)
            z = (residual - med) / scale
            if p.spike_z is not None:  # one wild reading must not read as a drift of its block's mean
                block_value = min(max(residual, med - p.spike_z * scale), med + p.spike_z * scale)
            az = abs(z)
            if p.spike_z is not None:
                score = max(score, az / p.spike_z)
                if az > p.spike_z:
                    self._hold("spike", rx, p.hold_s, z)
            if p.level_z is not None:
                score = max(score, az / p.level_z)
                self._level_run = self._level_run + 1 if az > p.level_z else 0
                if self._level_run >= p.level_persist:
                    self._hold("level", rx, p.hold_s, z)
            learn = az < p.learn_z and not self._until
        else:
            learn = not self._until
        if learn and ts >= self._next_learn:
            self._next_learn = ts + int(p.learn_every_s * NS)
            window.add(residual)
            if d is not None:
                self.diffs.add(d)
        if judge:
            score = max(score, self._block(block_value, ts, rx, learn_ok=abs(z) < p.learn_z))
        else:
            self._level_run = 0  # a level fault needs consecutive judged readings
        self._bump(score)

    def _block(self, residual: float, ts: int, rx: int, learn_ok: bool) -> float:
        p = self.p
        if p.cusum_h is None:
            return 0.0
        if self._block_start is None:
            self._block_start = ts
        self._block_sum += residual
        self._block_n += 1
        if ts - self._block_start < p.block_s * NS:
            return max(self.cusum_pos, self.cusum_neg) / p.cusum_h
        mean = self._block_sum / self._block_n
        self._block_sum, self._block_n, self._block_start = 0.0, 0, ts
        if not self.blocks_ready or not self.ready:  # the whole detector learns before any of it judges
            self.blocks.add(mean)
            return 0.0
        med, sigma = self.blocks.stats()
        zb = (mean - med) / self._scale(sigma, med)
        k, h = p.cusum_k, p.cusum_h
        if p.drift_direction != "down":
            self.cusum_pos = min(1.5 * h, max(0.0, self.cusum_pos + zb - k))
        if p.drift_direction != "up":
            self.cusum_neg = min(1.5 * h, max(0.0, self.cusum_neg - zb - k))
        # back inside the allowance for a while: the shift is over, restart the test
        self._calm_blocks = self._calm_blocks + 1 if abs(zb) <= k else 0
        if self._calm_blocks >= 3:
            self.cusum_pos = self.cusum_neg = 0.0
        s = max(self.cusum_pos, self.cusum_neg)
        if s > h:
            self._hold("drift", rx, 2.0 * p.block_s, zb)
        elif abs(zb) < p.learn_z and s < 0.5 * h and learn_ok:
            self.blocks.add(mean)
        return s / h

    # --- once per tick ---------------------------------------------------------------------------------
    def check(self, now_rx: int, judge: bool, tick_s: float) -> Verdict:
        """Silence (stuck), expiry of conditions, and the verdict for the alarm; all on the gateway's clock
        (machine clocks may be off: conditions are held from when readings were received)."""
        now = now_rx
        p = self.p
        limit: float | None = None
        operating = judge and self.ready
        if p.stuck_min_s is not None and self._good and self._changed_rx is not None:
            if operating:  # the interval between changes learned while operating
                limit = max(p.stuck_min_s, p.stuck_factor * (self.interval_s or 0.0))
            else:  # any other state (or settling): only where the signal is noisy in that state
                limit = self.silence.limit
        if limit is None:
            self._stuck_from = None
        else:
            if self._stuck_from is None:  # judging starts: silence is counted from then, not from before (while
                # operating, from the last change since judging resumed, as `resume` keeps it)
                self._stuck_from = self._last_change_rx if operating and self._last_change_rx is not None \
                    else now_rx
            assert self._changed_rx is not None
            silent = (now_rx - max(self._changed_rx, self._stuck_from)) / NS
            self._bump(max(self.score, silent / limit))
            if silent > limit:
                self._hold("stuck", now, 2.5 * tick_s, silent)
                self.silence.flagged = True
        for cause in [c for c, until in self._until.items() if until <= now]:
            del self._until[cause]
        if not self._until:
            self._anomalous_since = None
            return Verdict(False, None, "")
        if self._anomalous_since is None:
            self._anomalous_since = now
        elif (now - self._anomalous_since) / NS > p.rebaseline_after_s:
            self._rebaseline()
            return Verdict(False, None, "")
        cause = max(self._until, key=lambda c: self._until[c])
        return Verdict(True, cause, self.describe(cause))

    def describe(self, cause: str) -> str:
        text = CAUSE_TEXT.get(cause, cause)
        ev = self._evidence.get(cause)
        if cause in ("spike", "level") and ev is not None:
            med, _ = self._window(self._bucket).stats()
            return f"{self.name}: {text} (z {ev:+.1f} from {med:.4g}{self.unit and ' ' + self.unit})"
        if cause == "stuck" and ev is not None:
            return f"{self.name}: {text} ({ev:.0f} s without a change)"
        if cause == "range" and ev is not None and self.range is not None:
            return f"{self.name}: {text} ({ev:.4g} not in [{self.range[0]:g}, {self.range[1]:g}])"
        return f"{self.name}: {text}"

    def _rebaseline(self) -> None:
        """A condition lasted so long that it is the new normal: learn afresh (and say so)."""
        self.samples.clear()
        self.buckets.clear()
        self.diffs.clear()
        self.blocks.clear()
        self.silence.clear()
        self.cusum_pos = self.cusum_neg = 0.0
        self._until.clear()
        self._anomalous_since = None
        self._level_run = 0
        self.rebaselines += 1

    def take_score(self) -> float:
        """The highest score since the last call (what the score series stores)."""
        s, self.score_max = self.score_max, 0.0
        return s

    def zscore(self, residual: float) -> float | None:
        """Where `residual` lies in the learned band (for the multivariate detector), None while learning."""
        if not self.ready:
            return None
        med, sigma = self._window(self._bucket).stats()
        return (residual - med) / self._scale(sigma, med)

    # --- persistence ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"samples": self.samples.snapshot(), "diffs": self.diffs.snapshot(), "blocks": self.blocks.snapshot(),
                "buckets": {str(k): w.snapshot() for k, w in self.buckets.items()},
                "interval_s": self.interval_s, "quantum": self.quantum if math.isfinite(self.quantum) else None,
                "cusum": [self.cusum_pos, self.cusum_neg], "rebaselines": self.rebaselines,
                "silence": self.silence.snapshot()}

    def restore(self, snap: dict[str, Any]) -> None:
        self.samples.restore(snap["samples"])
        self.diffs.restore(snap["diffs"])
        self.blocks.restore(snap["blocks"])
        self.buckets.clear()
        for k, ws in (snap.get("buckets") or {}).items():
            self._window(int(k)).restore(ws)
        self.interval_s = snap.get("interval_s")
        q = snap.get("quantum")
        self.quantum = float(q) if q is not None else math.inf
        self.cusum_pos, self.cusum_neg = (float(x) for x in snap.get("cusum", [0.0, 0.0]))
        self.rebaselines = int(snap.get("rebaselines", 0))
        self.silence.restore(snap.get("silence") or {})  # absent in files saved before it was learned
