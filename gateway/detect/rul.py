"""Remaining useful life: a degradation trend extrapolated to its known limit, with an interval.

The indicator (tool wear in %, vibration in mm/s) is fitted against *operating* time, since a
tool wears only while the machine works: ordinary least squares over the last `window_s`
operating seconds since the component was last replaced (a fall of `reset_drop` or more), on the
value itself (`linear`) or its logarithm (`exponential`, damage that feeds itself, as a bearing's
vibration does). The crossing of the limit gives the remaining life; the 95 % interval comes from
the slope's standard error, corrected for autocorrelated residuals (slope ± 1.96 se gives the
late and the early crossing), widened where needed by how far past predictions were from the
realised end of life (the 2.5-97.5 % band of realised/predicted life). The failure
probability is P(limit reached within `horizon_s`), from a normal approximation of the crossing
time with that interval. Wall-clock date of the end of life = now + remaining operating time /
the share of time the machine operated recently.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from gateway.detect.config import RulConfig
from gateway.detect.robust import RobustWindow

Z95 = 1.959964


@dataclass(slots=True)
class RulEstimate:
    rul_s: float  # operating seconds until the limit
    low_s: float  # 95 % interval
    high_s: float
    failure_probability: float  # P(limit within horizon)
    rate: float  # fitted slope, units per operating second (of the log for exponential)
    value: float  # fitted current value
    points: int


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


class RulEstimator:
    def __init__(self, cfg: RulConfig) -> None:
        self.cfg = cfg
        self.reset_drop = cfg.reset_drop if cfg.reset_drop is not None else 0.1 * abs(cfg.limit)
        self.points: deque[tuple[float, float]] = deque()  # (operating s, value)
        self._smooth: float | None = None
        self._last_raw: float | None = None
        self._last_t: float | None = None
        self.replacements = 0
        self.start_op_s: float | None = None  # operating time at the last replacement (or first reading)
        self._issued: deque[tuple[float, float]] = deque(maxlen=2000)  # (op s, predicted RUL) of this life
        self.ratios = RobustWindow(400)  # realised / predicted remaining life, of lives that ended
        self._ended = False

    def observe(self, value: float, op_s: float) -> bool:
        """A good reading at operating time `op_s`; True when it showed a replacement."""
        cfg = self.cfg
        replaced = False
        reached = value >= cfg.limit if cfg.direction == "up" else value <= cfg.limit
        if reached and not self._ended:
            self._end_of_life(op_s)
        if self._last_raw is not None:
            fall = self._last_raw - value if cfg.direction == "up" else value - self._last_raw
            if fall >= self.reset_drop:
                self.points.clear()
                self._smooth = None
                self.replacements += 1
                replaced = True
                self.start_op_s = op_s
                self._issued.clear()
                self._ended = False
        if self.start_op_s is None:
            self.start_op_s = op_s
        self._last_raw = value
        if cfg.smooth_s > 0:
            dt = op_s - self._last_t if self._last_t is not None else 0.0
            a = 1.0 - math.exp(-max(dt, 0.0) / cfg.smooth_s) if self._smooth is not None else 1.0
            self._smooth = value if self._smooth is None else self._smooth + a * (value - self._smooth)
            value = self._smooth
        self._last_t = op_s
        if cfg.model == "exponential":
            if value <= 0:
                return replaced
            value = math.log(value)
        self.points.append((op_s, value))
        while self.points and self.points[0][0] < op_s - cfg.window_s:
            self.points.popleft()
        return replaced

    def _end_of_life(self, op_s: float) -> None:
        """The limit was reached: score this life's predictions, which calibrates the next intervals."""
        self._ended = True
        for t, rul in self._issued:
            if rul > 0 and op_s > t:
                self.ratios.add((op_s - t) / rul)
        self._issued.clear()

    def estimate(self, op_s: float) -> RulEstimate | None:
        cfg = self.cfg
        n = len(self.points)
        if n < cfg.min_points:
            return None
        ts = [t for t, _ in self.points]
        ys = [y for _, y in self.points]
        tm, ym = sum(ts) / n, sum(ys) / n
        sxx = sum((t - tm) ** 2 for t in ts)
        if sxx <= 0:
            return None
        b = sum((t - tm) * (y - ym) for t, y in zip(ts, ys, strict=True)) / sxx
        a = ym - b * tm
        res = [y - a - b * t for t, y in zip(ts, ys, strict=True)]
        ss = sum(r * r for r in res)
        # readings of a degradation trend are not independent (wear grows only while cutting, vibration in
        # bursts): the residuals' lag-1 autocorrelation shrinks the effective number of points, and with it
        # widens the slope's standard error (the usual AR(1) correction)
        rho = sum(res[i] * res[i - 1] for i in range(1, n)) / ss if ss > 0 else 0.0
        rho = min(max(rho, 0.0), 0.99)
        n_eff = max(3.0, n * (1 - rho) / (1 + rho))
        se_b = math.sqrt(ss / (n - 2) / sxx * n / n_eff) if n > 2 else math.inf
        now_y = a + b * op_s
        limit = math.log(cfg.limit) if cfg.model == "exponential" else cfg.limit
        sign = 1.0 if cfg.direction == "up" else -1.0
        gap = sign * (limit - now_y)  # how far to go, > 0 before the limit
        rate, rate_lo, rate_hi = sign * b, sign * b - Z95 * se_b, sign * b + Z95 * se_b
        value = math.exp(now_y) if cfg.model == "exponential" else now_y
        if gap <= 0:
            return RulEstimate(0.0, 0.0, 0.0, 1.0, b, value, n)
        if rate <= 0:
            return RulEstimate(math.inf, gap / rate_hi if rate_hi > 0 else math.inf, math.inf, 0.0, b, value, n)
        rul = gap / rate
        low = gap / rate_hi if rate_hi > 0 else rul
        high = gap / rate_lo if rate_lo > 0 else math.inf
        if len(self.ratios) >= 20:
            # calibrated by outcomes: how far off were past predictions (a trend bends, a machine works faster
            # or slower)? the 95 % band of realised/predicted widens the slope's interval where it was too narrow
            low = min(low, rul * self.ratios.quantile(0.025))
            high = max(high, rul * self.ratios.quantile(0.975))
        if not self._ended:
            self._issued.append((op_s, rul))
        sigma = (high - low) / (2 * Z95) if math.isfinite(high) else max(rul, 1.0)
        prob = _phi((cfg.horizon_s - rul) / sigma) if sigma > 0 else float(rul <= cfg.horizon_s)
        return RulEstimate(rul, low, high, prob, b, value, n)

    def snapshot(self) -> dict[str, Any]:
        return {"points": [list(p) for p in self.points], "smooth": self._smooth, "last_raw": self._last_raw,
                "last_t": self._last_t, "replacements": self.replacements, "start_op_s": self.start_op_s,
                "ratios": self.ratios.snapshot(), "ended": self._ended}

    def restore(self, snap: dict[str, Any]) -> None:
        self.points = deque((float(t), float(y)) for t, y in snap.get("points", []))
        self._smooth = snap.get("smooth")
        self._last_raw = snap.get("last_raw")
        self._last_t = snap.get("last_t")
        self.replacements = int(snap.get("replacements") or 0)
        self.start_op_s = snap.get("start_op_s")
        if snap.get("ratios"):
            self.ratios.restore(snap["ratios"])
        self._ended = bool(snap.get("ended", False))
