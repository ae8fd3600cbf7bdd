"""Exponential backoff with jitter, shared by every connector that reconnects.

Jitter matters on a factory network: after a switch reboot, fifty gateways
must not hammer the same PLC in lock-step.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.2,
                 rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._next = initial
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows x2 up to `maximum`, +/- jitter."""
        base = self._next
        self._next = min(self._next * 2, self.maximum)
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        self._next = self.initial
        self.attempts = 0
