"""A window of recent normal values with its median and robust spread: the baseline every detector learns.

Median and MAD rather than mean and standard deviation because the window is learned from live
data that may hold the odd outlier the gate let through: one wild reading moves a mean, not a
median. The spread is the larger of the MAD-based sigma and the 1-99 % quantile range over 2 x
2.326 (the same number for normal data): machine signals are often multimodal (a spindle that
cuts 80 % of the time and idles 20 %), and then the MAD sees only the larger mode and calls the
other one a 12-sigma outlier, while the quantile range covers both.

The window is a fixed ring of doubles (`array('d')`, 8 bytes a value, so 1,000 signals with
600 values each cost ~5 MB) and the statistics are refitted every `len/20` additions, not on every
value: sorting 600 doubles costs ~30 µs, so about 1 µs per reading.
"""

from __future__ import annotations

import base64
import math
from array import array
from typing import Any

MAD_TO_SIGMA = 1.4826  # MAD x this = standard deviation, for normal data
_Q = 0.01  # quantiles of the tail-aware spread
_Q_RANGE_TO_SIGMA = 1.0 / (2 * 2.3263)  # (q99 - q01) x this = standard deviation, for normal data


class RobustWindow:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._values = array("d")
        self._next = 0  # where the next value goes once the ring is full
        self._since_fit = 0
        self._median = math.nan
        self._sigma = math.nan
        self.added = 0  # values ever added (learning progress survives the ring wrapping)

    def __len__(self) -> int:
        return len(self._values)

    def add(self, x: float) -> None:
        v = self._values
        if len(v) < self.capacity:
            v.append(x)
        else:
            v[self._next] = x
            self._next = (self._next + 1) % self.capacity
        self.added += 1
        self._since_fit += 1

    def clear(self) -> None:
        self._values = array("d")
        self._next = 0
        self._since_fit = 0
        self._median = self._sigma = math.nan
        self.added = 0

    def _fit(self) -> None:
        values = sorted(self._values)
        n = len(values)
        if n == 0:
            self._median = self._sigma = math.nan
        else:
            mid = n // 2
            med = values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])
            dev = sorted(abs(x - med) for x in values)
            mad = dev[mid] if n % 2 else 0.5 * (dev[mid - 1] + dev[mid])
            lo, hi = values[int(_Q * (n - 1))], values[round((1 - _Q) * (n - 1))]
            self._median, self._sigma = med, max(MAD_TO_SIGMA * mad, (hi - lo) * _Q_RANGE_TO_SIGMA)
        self._since_fit = 0

    def stats(self) -> tuple[float, float]:
        """(median, sigma), refitted when enough new values arrived since the last fit."""
        if self._since_fit and (math.isnan(self._median) or self._since_fit >= max(1, len(self._values) // 20)):
            self._fit()
        return self._median, self._sigma

    def quantile(self, q: float) -> float:
        """An empirical quantile of the window (not cached: for rarely refreshed limits)."""
        if not self._values:
            return math.nan
        values = sorted(self._values)
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    # --- persistence -----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        ordered = self._values[self._next:] + self._values[:self._next] if len(self._values) == self.capacity \
            else self._values
        return {"values": base64.b64encode(ordered.tobytes()).decode("ascii"), "added": self.added}

    def restore(self, snap: dict[str, Any]) -> None:
        values = array("d")
        values.frombytes(base64.b64decode(snap["values"]))
        self.clear()
        for x in values[-self.capacity:]:
            self._values.append(x)
        self._next = 0
        self._since_fit = len(self._values)
        self.added = max(int(snap.get("added", 0)), len(self._values))
