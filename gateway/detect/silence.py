"""How long a signal is normally silent in each machine state: the stuck check outside operation.

A stuck sensor is silence, but silence means something only where the signal normally changes.
While the machine operates, every watched signal moves and the detector judges silence against the
learned interval between changes (signal.py). In the other states it depends on the signal: a
stopped spindle's load is legitimately flat at 0, while a coolant temperature, a barrel zone held
at its setpoint or a vibration sensor at its noise floor go on changing every second whatever the
machine does. So silence is learned per machine state, from the data, and a state is judged only
where the signal showed itself noisy:

- every silence (the time between two changes of the reported value) is split at state changes
  and each part is learned by the state it fell in: time seen, time spent in *quiet* silences
  (longer than a third of the minimum stuck limit), and the interval between changes;
- a state is judged once it was seen for `stuck_state_learn_s` and quiet silences were at most
  QUIET_SHARE of that time; its limit is the same as while operating: `stuck_min_s`, or
  `stuck_factor` times the learned interval if longer. A signal that is flat in a state (the load
  of a stopped spindle, a counter that stops with the machine) fills that state with quiet time
  and is never judged there;
- whether a state is judged is decided when a silence starts (at a change, or on entering the
  state), so a state cannot qualify in the middle of its own flat stretch; a silence that raised a
  stuck condition is not learned (a fault is not learned as the normal, as with the baselines), and
  one interrupted by a bad reading is learned up to that reading (the good readings before it were
  evidence) but not as an interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NS = 1_000_000_000
QUIET_MARGIN = 3.0  # a silence longer than stuck_min_s / QUIET_MARGIN is quiet: the signal may be flat there
QUIET_SHARE = 0.02  # a state is judged if at most this share of its learned time was quiet
_EWMA = 0.05  # weight of a new interval in the learned interval (as while operating)


@dataclass(slots=True)
class _StateRecord:
    seen_s: float = 0.0
    quiet_s: float = 0.0
    interval_s: float | None = None


class StateSilence:
    """The per-state silence statistics of one signal, and the stuck limit of its current silence."""

    def __init__(self, stuck_min_s: float | None, stuck_factor: float, learn_s: float | None) -> None:
        self.stuck_min_s = stuck_min_s
        self.stuck_factor = stuck_factor
        self.learn_s = learn_s
        self.records: dict[str, _StateRecord] = {}
        self.state: str | None = None
        self.limit: float | None = None  # limit of the current silence in the current state; None: not judged
        self.flagged = False  # the current silence raised a stuck condition
        self._part_from: int | None = None  # start of the current silence's part in the current state (rx, ns)
        self._parts: list[tuple[str, float]] = []  # earlier parts of the current silence, in other states

    def limit_for(self, state: str | None) -> float | None:
        """The silence limit in `state` as learned so far, or None if silence is no evidence there."""
        if self.stuck_min_s is None or self.learn_s is None or state is None:
            return None
        r = self.records.get(state)
        if r is None or r.seen_s < self.learn_s or r.quiet_s > QUIET_SHARE * r.seen_s:
            return None
        return max(self.stuck_min_s, self.stuck_factor * (r.interval_s or 0.0))

    def _learn(self, state: str, seconds: float, interval: bool) -> None:
        if self.stuck_min_s is None or seconds < 0:
            return
        r = self.records.get(state)
        if r is None:
            r = self.records[state] = _StateRecord()
        r.seen_s += seconds
        if seconds > self.stuck_min_s / QUIET_MARGIN:
            r.quiet_s += seconds
        if interval and seconds > 0:
            r.interval_s = seconds if r.interval_s is None else (1 - _EWMA) * r.interval_s + _EWMA * seconds

    def _close(self, rx: int, ended_by_change: bool) -> None:
        """The current silence ends at `rx`: learn its parts (unless it raised a stuck condition)."""
        if self._part_from is not None and not self.flagged:
            whole = len(self._parts) == 0  # a silence within one state is an interval between changes
            for state, seconds in self._parts:
                self._learn(state, seconds, False)
            if self.state is not None:
                self._learn(self.state, (rx - self._part_from) / NS, ended_by_change and whole)
        self._parts.clear()
        self.flagged = False

    def changed(self, rx: int) -> None:
        """The reported value changed (or a good reading followed a bad one): a new silence starts."""
        self._close(rx, ended_by_change=True)
        self._part_from = rx
        self.limit = self.limit_for(self.state)

    def interrupted(self, rx: int | None) -> None:
        """A bad reading: the silence so far is learned (not as an interval), and nothing is judged until a
        good reading starts a new one."""
        if rx is not None:
            self._close(rx, ended_by_change=False)
        else:
            self._parts.clear()
            self.flagged = False
        self._part_from = None
        self.limit = None

    def enter(self, state: str, rx: int) -> None:
        """The machine entered `state`: the current silence goes on, judged by that state's limit."""
        if state == self.state:
            return
        if self._part_from is not None and self.state is not None:
            self._parts.append((self.state, (rx - self._part_from) / NS))
            self._part_from = rx
        self.state = state
        self.limit = self.limit_for(state) if self._part_from is not None else None

    def clear(self) -> None:
        self.records.clear()
        self._parts.clear()
        self.flagged = False
        self.limit = None

    # --- persistence ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, list[float | None]]:
        return {s: [r.seen_s, r.quiet_s, r.interval_s] for s, r in self.records.items()}

    def restore(self, snap: dict[str, Any]) -> None:
        self.records = {str(s): _StateRecord(float(v[0]), float(v[1]), None if v[2] is None else float(v[2]))
                        for s, v in snap.items()}
