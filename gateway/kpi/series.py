"""The engine's memory of its inputs: step functions, counter deltas and energy register readings.

Each structure is kept in (effective time, arrival) order per point. Per point, arrival order is
the historian's `seq` order (one source publishes a point's samples in sequence), so the live
engine and the recompute build identical structures from the same samples whatever way samples
of *different* points interleave: nothing here looks at another point at insert time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from typing import Any


class Steps:
    """A value that holds from one sample's effective time to the next (state, mode, operator inputs)."""

    __slots__ = ("effs", "items")

    def __init__(self) -> None:
        self.effs: list[int] = []
        self.items: list[tuple[int, int, Any, int]] = []  # (eff, arrival, value, received)

    def add(self, eff: int, n: int, value: Any, received: int) -> None:
        item = (eff, n, value, received)
        if not self.items or self.items[-1][:2] <= (eff, n):
            self.effs.append(eff)
            self.items.append(item)
        else:
            i = bisect_right(self.items, (eff, n, _Top()))
            self.items.insert(i, item)
            self.effs.insert(i, eff)

    def entry_at(self, t: int) -> tuple[int, int, Any, int] | None:
        i = bisect_right(self.effs, t) - 1
        return self.items[i] if i >= 0 else None

    def at(self, t: int) -> Any:
        e = self.entry_at(t)
        return None if e is None else e[2]

    def changes(self, a: int, b: int) -> list[int]:
        """Effective times of changes strictly inside (a, b)."""
        return self.effs[bisect_right(self.effs, a):bisect_left(self.effs, b)]

    def last(self) -> tuple[int, int, Any, int] | None:
        return self.items[-1] if self.items else None

    def prune(self, horizon: int) -> None:
        """Forget entries before `horizon`, but keep the one in force at it."""
        i = bisect_right(self.effs, horizon) - 1
        if i > 0:
            del self.effs[:i]
            del self.items[:i]

    def __len__(self) -> int:
        return len(self.items)


class _Top:
    """Compares greater than anything: bisect past every item with the same (eff, n)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


class Events:
    """Counter deltas at their effective times."""

    __slots__ = ("effs", "items")

    def __init__(self) -> None:
        self.effs: list[int] = []
        self.items: list[tuple[int, int, float]] = []  # (eff, arrival, delta)

    def add(self, eff: int, n: int, delta: float) -> None:
        if not self.items or self.items[-1][:2] <= (eff, n):
            self.effs.append(eff)
            self.items.append((eff, n, delta))
        else:
            insort(self.items, (eff, n, delta))
            self.effs.insert(bisect_right(self.effs, eff), eff)
            # keep effs aligned with items (equal effs: any position among them is the same value)

    def between(self, a: int, b: int) -> list[tuple[int, int, float]]:
        return self.items[bisect_left(self.effs, a):bisect_left(self.effs, b)]

    def take_before(self, horizon: int) -> list[tuple[int, int, float]]:
        i = bisect_left(self.effs, horizon)
        out = self.items[:i]
        del self.effs[:i]
        del self.items[:i]
        return out

    def __len__(self) -> int:
        return len(self.items)


SLOT_NS = 60 * 1_000_000_000


class Register:
    """An energy register read at period boundaries: per minute, its first and last good reading.

    Periods need the register only where they start and end, so a meter polled every second costs
    two readings a minute here, and the recompute reads boundaries instead of every sample.
    A reading in force at time x is the last one of the latest minute that starts before x.
    """

    __slots__ = ("keys", "slots")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.slots: dict[int, list[tuple[int, int, int]]] = {}  # minute -> [first, last] as (eff, n, units)

    def add(self, eff: int, n: int, units: int) -> None:
        k = eff // SLOT_NS
        slot = self.slots.get(k)
        if slot is None:
            item = (eff, n, units)
            self.slots[k] = [item, item]
            keys = self.keys
            if not keys or keys[-1] < k:
                keys.append(k)
            else:
                insort(keys, k)
            return
        first, last = slot
        if eff < first[0] or (eff == first[0] and n < first[1]):
            slot[0] = (eff, n, units)
        if eff > last[0] or (eff == last[0] and n > last[1]):
            slot[1] = (eff, n, units)

    def value_before(self, x: int) -> int | None:
        i = bisect_left(self.keys, -(-x // SLOT_NS)) - 1  # minutes starting before x
        return self.slots[self.keys[i]][1][2] if i >= 0 else None

    def first_from(self, x: int) -> int | None:
        i = bisect_left(self.keys, x // SLOT_NS)
        return self.slots[self.keys[i]][0][2] if i < len(self.keys) else None

    def prune(self, horizon: int) -> None:
        i = bisect_left(self.keys, -(-horizon // SLOT_NS)) - 1
        if i > 0:
            for k in self.keys[:i]:
                del self.slots[k]
            del self.keys[:i]
