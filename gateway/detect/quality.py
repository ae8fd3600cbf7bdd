"""Quality prediction: the process parameters of each production cycle predict whether it is scrap.

A cycle ends when the cycle counter increments; its features are aggregates (mean, max, min, last)
of the configured process values over the cycle, or their deviation from a setpoint. The model
predicts the scrap probability *before* the cycle's label is known, publishes it, and learns once
the good/scrap counters say what the part was (prequential: every prediction is an honest one).

The classifier is online logistic regression with AdaGrad steps and L2 on robustly standardised
inputs and their absolute values: quality usually suffers when a parameter leaves its window in
either direction, which |z| expresses and a linear model on z alone cannot. Hand-written
(40 lines) rather than from river or scikit-learn: both import scipy, which costs ~100 MB resident
in a gateway whose whole detection budget is 100 MB (measured; see multivariate.py).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.detect.robust import RobustWindow

NS = 1_000_000_000
LABEL_MATCH_S = 5.0  # a counter increment this close to a cycle's end labels it
PENDING_MAX_S = 60.0  # a cycle without a label after this long is dropped (counted)


class OnlineLogit:
    """Logistic regression learned one example at a time (AdaGrad, L2) on robustly standardised inputs.

    Each feature is standardised by the median and MAD of its recent values (not mean and variance:
    a heater failure's extreme cycles would inflate the variance and squash every normal cycle to
    z = 0), then compressed with log1p so that z = 5 and z = 500 stay ordered without dominating,
    and given to the model twice: signed (a direction matters) and absolute (leaving the window in
    either direction matters).
    """

    def __init__(self, n_features: int, learning_rate: float = 0.05, l2: float = 1e-3, window: int = 500) -> None:
        self.n = n_features
        self.lr = learning_rate
        self.l2 = l2
        self.windows = [RobustWindow(window) for _ in range(n_features)]
        self.w = [0.0] * (2 * n_features)
        self.b = 0.0
        self.g2 = [1e-8] * (2 * n_features + 1)  # AdaGrad accumulators (last: bias)
        self.learned = 0
        self.positives = 0

    def _inputs(self, x: Sequence[float]) -> list[float]:
        signed, absolute = [], []
        for v, win in zip(x, self.windows, strict=True):
            if len(win) < 5:
                signed.append(0.0)
                absolute.append(0.0)
                continue
            med, sigma = win.stats()
            z = (v - med) / max(sigma, 1e-9 * max(1.0, abs(med)), 1e-6)
            a = math.log1p(abs(z))
            signed.append(math.copysign(a, z))
            absolute.append(a)
        return signed + absolute

    def _pos_weight(self) -> float:
        return min(10.0, max(1.0, (self.learned - self.positives) / max(self.positives, 1)))

    def predict(self, x: Sequence[float]) -> float:
        u = self._inputs(x)
        s = self.b + sum(w * v for w, v in zip(self.w, u, strict=True))
        # learned with scrap weighted by w, the model's odds are w x the true odds: undo that, so the
        # probability (and the expected scrap rate from it) stays calibrated; the ranking is unchanged
        s -= math.log(self._pos_weight())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, s))))

    def learn(self, x: Sequence[float], y: bool) -> None:
        # standardised with what was known before this cycle; then the cycle joins the statistics
        u = self._inputs(x)
        s = self.b + sum(w * v for w, v in zip(self.w, u, strict=True))
        g = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, s)))) - (1.0 if y else 0.0)
        if y:  # scrap is rare: weigh it up (capped), or the model settles on "always good"
            self.positives += 1
            g *= self._pos_weight()
        for j, v in enumerate(u):
            grad = g * v + self.l2 * self.w[j]
            self.g2[j] += grad * grad
            self.w[j] -= self.lr * grad / math.sqrt(self.g2[j])
        self.g2[-1] += g * g
        self.b -= self.lr * g / math.sqrt(self.g2[-1])
        for v, win in zip(x, self.windows, strict=True):
            win.add(v)
        self.learned += 1

    def snapshot(self) -> dict[str, Any]:
        return {"windows": [w.snapshot() for w in self.windows], "w": self.w, "b": self.b, "g2": self.g2,
                "learned": self.learned, "positives": self.positives}

    def restore(self, snap: dict[str, Any]) -> None:
        if len(snap["windows"]) != self.n:
            raise ValueError("the quality model has other features now")
        for win, ws in zip(self.windows, snap["windows"], strict=True):
            win.restore(ws)
        self.learned, self.b = int(snap["learned"]), float(snap["b"])
        self.positives = int(snap.get("positives", 0))
        self.w, self.g2 = [float(v) for v in snap["w"]], [float(v) for v in snap["g2"]]


@dataclass(slots=True)
class _Agg:
    kind: str
    total: float = 0.0
    n: int = 0
    value: float = math.nan

    def add(self, v: float) -> None:
        self.n += 1
        if self.kind == "mean":
            self.total += v
        elif self.kind == "max":
            self.value = v if self.n == 1 else max(self.value, v)
        elif self.kind == "min":
            self.value = v if self.n == 1 else min(self.value, v)
        else:
            self.value = v

    def result(self) -> float:
        if self.n == 0:
            return math.nan
        return self.total / self.n if self.kind == "mean" else self.value


@dataclass(slots=True)
class Prediction:
    cycle_end_ns: int
    probability: float
    expected_rate: float


@dataclass(slots=True)
class _Pending:
    end_ns: int
    features: list[float]
    probability: float


class QualityPredictor:
    """Per-cycle features -> scrap probability, learning from the counters; see the module docstring."""

    def __init__(self, aggs: Sequence[str], rate_window: int, min_cycles: int, learning_rate: float,
                 l2: float, has_good_counter: bool) -> None:
        self.model = OnlineLogit(len(aggs), learning_rate, l2)
        self._aggs = [_Agg(a) for a in aggs]
        self._last = [math.nan] * len(aggs)  # last cycle's values: a feature that did not change keeps it
        self.min_cycles = min_cycles
        self.has_good_counter = has_good_counter
        self._pending: deque[_Pending] = deque()
        self._labels: deque[tuple[int, bool]] = deque()  # labels that came before their cycle ended
        self.recent_p: deque[float] = deque(maxlen=rate_window)
        self.recent_y: deque[bool] = deque(maxlen=rate_window)
        self.unlabelled = 0
        self.history: list[tuple[float, bool]] | None = None  # (p, scrap) of every labelled cycle, if kept

    @property
    def trained(self) -> bool:
        return self.model.learned >= self.min_cycles

    def feature(self, i: int, v: float) -> None:
        self._aggs[i].add(v)

    def end_cycle(self, ts: int) -> Prediction:
        """The cycle counter incremented: predict for the cycle that just ended."""
        feats = []
        for i, agg in enumerate(self._aggs):
            v = agg.result()
            if math.isnan(v):
                v = self._last[i]
            self._last[i] = v
            feats.append(v if not math.isnan(v) else 0.0)
            self._aggs[i] = _Agg(agg.kind)
        if self.trained:
            p = self.model.predict(feats)
        else:  # until it learned enough, the best guess is the rate seen so far
            p = (sum(self.recent_y) + 1) / (len(self.recent_y) + 2)
        self._pending.append(_Pending(ts, feats, p))
        self.recent_p.append(p)
        self._match()
        return Prediction(ts, p, sum(self.recent_p) / len(self.recent_p))

    def label(self, ts: int, scrap: bool) -> None:
        """A good or scrap counter incremented at `ts`."""
        self._labels.append((ts, scrap))
        self._match()

    def expire(self, now_ts: int) -> None:
        """Cycles whose label never came (with a good counter) or that are good by silence (without)."""
        while self._pending and (now_ts - self._pending[0].end_ns) / NS > (
                LABEL_MATCH_S if not self.has_good_counter else PENDING_MAX_S):
            c = self._pending.popleft()
            if self.has_good_counter:
                self.unlabelled += 1
            else:
                self._learn(c, False)
        while self._labels and (now_ts - self._labels[0][0]) / NS > PENDING_MAX_S:
            self._labels.popleft()

    def _match(self) -> None:
        while self._labels and self._pending:
            ts, scrap = self._labels[0]
            c = self._pending[0]
            if abs(ts - c.end_ns) / NS <= LABEL_MATCH_S:
                self._labels.popleft()
                self._pending.popleft()
                self._learn(c, scrap)
            elif ts < c.end_ns:
                self._labels.popleft()  # a label for a cycle we never saw end
            else:
                break

    def _learn(self, c: _Pending, scrap: bool) -> None:
        if self.history is not None:
            self.history.append((c.probability, scrap))
        self.recent_y.append(scrap)
        self.model.learn(c.features, scrap)

    @property
    def observed_rate(self) -> float | None:
        return sum(self.recent_y) / len(self.recent_y) if self.recent_y else None

    def snapshot(self) -> dict[str, Any]:
        return {"model": self.model.snapshot(), "last": [None if math.isnan(v) else v for v in self._last],
                "recent_p": list(self.recent_p), "recent_y": list(self.recent_y)}

    def restore(self, snap: dict[str, Any]) -> None:
        self.model.restore(snap["model"])
        last = snap.get("last") or []
        if len(last) == len(self._last):
            self._last = [math.nan if v is None else float(v) for v in last]
        self.recent_p.extend(float(v) for v in snap.get("recent_p", []))
        self.recent_y.extend(bool(v) for v in snap.get("recent_y", []))
