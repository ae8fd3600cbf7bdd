"""Remaining useful life: a degradation trend extrapolated to its known limit, with an interval.

The indicator (tool wear in %, vibration in mm/s) is fitted against *operating* time, since a
tool wears only while the machine works: ordinary least squares over the last `window_s`
operating seconds since the component was last replaced (a fall of `reset_drop` or more), on the
value itself (`linear`) or its logarithm (`exponential`, damage that feeds itself, as a bearing's
vibration does). The crossing of the limit gives the remaining life; the 95 % interval comes from
the slope's standard error (slope ± 1.96 se gives the late and the early crossing). The failure
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

    def observe(self, value: float, op_s: float) -> bool:
        """A good reading at operating time `op_s`; True when it showed a replacement."""
        cfg = self.cfg
        replaced = False
        if self._last_raw is not None:
            fall = self._last_raw - value if cfg.direction == "up" else value - self._last_raw
            if fall >= self.reset_drop:
                self.points.clear()
                self._smooth = None
                self.replacements += 1
                replaced = True
                self.start_op_s = op_s
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
        resid = sum((y - a - b * t) ** 2 for t, y in zip(ts, ys, strict=True))
        se_b = math.sqrt(resid / (n - 2) / sxx) if n > 2 else math.inf
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
        sigma = (high - low) / (2 * Z95) if math.isfinite(high) else max(rul, 1.0)
        prob = _phi((cfg.horizon_s - rul) / sigma) if sigma > 0 else float(rul <= cfg.horizon_s)
        return RulEstimate(rul, low, high, prob, b, value, n)

    def snapshot(self) -> dict[str, Any]:
        return {"points": [list(p) for p in self.points], "smooth": self._smooth, "last_raw": self._last_raw,
                "last_t": self._last_t, "replacements": self.replacements, "start_op_s": self.start_op_s}

    def restore(self, snap: dict[str, Any]) -> None:
        self.points = deque((float(t), float(y)) for t, y in snap.get("points", []))
        self._smooth = snap.get("smooth")
        self._last_raw = snap.get("last_raw")
        self._last_t = snap.get("last_t")
        self.replacements = int(snap.get("replacements") or 0)
        self.start_op_s = snap.get("start_op_s")
