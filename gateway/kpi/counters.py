"""Quantities from cumulative counters: deltas, robust to resets, wrap-around, restarts and gaps.

Only good samples count; a bad one (machine unreachable) leaves the last good value as the
baseline, so the parts made during a gap are counted when the counter is read again. A counter
that goes down either wrapped (the modulus is known and the wrapped step is small: a UInt32
going from 4294967290 to 3 made 9 parts) or was reset (it counted the new value since).
"""

from __future__ import annotations

# counter modulus from the point's value type (unsigned ones wrap to 0, signed ones to their minimum)
WRAP = {
    "xs:unsignedByte": 2**8, "xs:unsignedShort": 2**16, "xs:unsignedInt": 2**32, "xs:unsignedLong": 2**64,
    "xs:byte": 2**8, "xs:short": 2**16, "xs:int": 2**32, "xs:long": 2**64,
}


def counter_delta(prev: float, value: float, modulus: int | None) -> float:
    """Parts counted between two good readings of a cumulative counter."""
    d = value - prev
    if d >= 0:
        return d
    if modulus is not None and d + modulus < modulus / 2:
        return d + modulus  # wrapped around
    return value if value >= 0 else 0  # reset: it has counted `value` since


class CounterTrack:
    """Baseline of one counter point, in the point's sample order."""

    __slots__ = ("modulus", "prev", "resets", "wraps")

    def __init__(self, modulus: int | None) -> None:
        self.modulus = modulus
        self.prev: float | None = None
        self.resets = 0
        self.wraps = 0

    def update(self, value: float) -> float:
        prev, self.prev = self.prev, value
        if prev is None:
            return 0
        d = value - prev
        if d >= 0:
            return d
        out = counter_delta(prev, value, self.modulus)
        if out != value:
            self.wraps += 1
        else:
            self.resets += 1
        return out
