"""The life cycle of one alarm, after ISA-18.2 (the alarm-management standard plants already follow).

    Normal ──raise──► Unacknowledged ──ack──► Acknowledged ──clear──► Normal
                           │                                    ▲
                           └──clear──► ClearedUnacknowledged ───┘ ack
                                           │ raise again
                                           └──────────► Unacknowledged

An alarm is *raised* when its detector finds an anomaly, *cleared* only after the detector has
found none for `clear_after_s` (hysteresis: a flickering condition is one alarm, not many), and
*acknowledged* by an operator, which the API's write path authorises (role operator) and audits.
A cleared alarm nobody acknowledged stays visible as ClearedUnacknowledged: an operator must have
seen it. Every transition is returned to the caller, which publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AlarmState = Literal["Normal", "Unacknowledged", "Acknowledged", "ClearedUnacknowledged"]
NS = 1_000_000_000


@dataclass(slots=True)
class Transition:
    alarm: str
    kind: Literal["raised", "acknowledged", "cleared", "updated"]
    at_ns: int


@dataclass
class Alarm:
    name: str  # idShort of the alarm
    severity: int
    source: str  # what it watches: a signal's idShortPath, "multivariate", "quality", "rul:<name>"
    clear_after_s: float = 30.0
    state: AlarmState = "Normal"
    cause: str = ""
    message: str = ""
    raised_ns: int | None = None
    cleared_ns: int | None = None
    acknowledged_ns: int | None = None
    raised_count: int = 0
    _normal_since: int | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ("Unacknowledged", "Acknowledged")

    @property
    def acknowledged(self) -> bool:
        return self.state in ("Normal", "Acknowledged")

    def update(self, anomalous: bool, cause: str | None, message: str, now: int) -> Transition | None:
        """Feed the detector's verdict of this tick; returns the transition it caused, if any."""
        if anomalous:
            self._normal_since = None
            if not self.active:
                self.state = "Unacknowledged"
                self.raised_ns, self.cleared_ns, self.acknowledged_ns = now, None, None
                self.cause, self.message = cause or "", message
                self.raised_count += 1
                return Transition(self.name, "raised", now)
            if cause and (cause != self.cause or message != self.message):
                self.cause, self.message = cause, message
                return Transition(self.name, "updated", now)
            return None
        if not self.active:
            return None
        if self._normal_since is None:
            self._normal_since = now
        if (now - self._normal_since) / NS < self.clear_after_s:
            return None
        self.state = "Normal" if self.state == "Acknowledged" else "ClearedUnacknowledged"
        self.cleared_ns = now
        self._normal_since = None
        return Transition(self.name, "cleared", now)

    def acknowledge(self, now: int) -> Transition | None:
        """An operator saw it; None when there is nothing to acknowledge."""
        if self.state == "Unacknowledged":
            self.state = "Acknowledged"
        elif self.state == "ClearedUnacknowledged":
            self.state = "Normal"
        else:
            return None
        self.acknowledged_ns = now
        return Transition(self.name, "acknowledged", now)

    # --- persistence: an alarm nobody acknowledged must survive a restart ------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state, "cause": self.cause, "message": self.message, "raised_ns": self.raised_ns,
                "cleared_ns": self.cleared_ns, "acknowledged_ns": self.acknowledged_ns,
                "raised_count": self.raised_count}

    def restore(self, snap: dict[str, Any]) -> None:
        state = snap.get("state")
        if state in ("Normal", "Unacknowledged", "Acknowledged", "ClearedUnacknowledged"):
            self.state = state
        self.cause = str(snap.get("cause") or "")
        self.message = str(snap.get("message") or "")
        self.raised_ns = snap.get("raised_ns")
        self.cleared_ns = snap.get("cleared_ns")
        self.acknowledged_ns = snap.get("acknowledged_ns")
        self.raised_count = int(snap.get("raised_count") or 0)
