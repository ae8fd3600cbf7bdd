"""The small interface every source connector implements.

Like Telegraf's inputs, a source knows its protocol and nothing else: it is
given point specs, runs until cancelled, and hands batches of Samples to an
``emit`` coroutine. Health (connection state, per-point status) is readable
at any time so the gateway can show data freshness without knowing the
protocol. Adding a connector means adding a module; nothing else changes.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from connectors.sample import Sample

Emit = Callable[[Sequence[Sample]], Awaitable[None]]


class ConnectionState(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(slots=True)
class PointHealth:
    status: int | None = None  # last OPC UA status code, None = nothing yet
    last_sample_ns: int | None = None
    error: str | None = None


@dataclass(slots=True)
class SourceHealth:
    name: str
    endpoint: str
    state: ConnectionState = ConnectionState.CONNECTING
    state_since_ns: int = 0
    last_error: str | None = None
    connects: int = 0
    last_sample_ns: int | None = None
    points: dict[str, PointHealth] = field(default_factory=dict)
    # called on every connection-state change, so a status display never lags a transition
    on_state_change: Callable[[SourceHealth], None] | None = field(default=None, repr=False)

    def set_state(self, state: ConnectionState, now_ns: int) -> None:
        if self.state != state:
            self.state = state
            self.state_since_ns = now_ns
            if self.on_state_change is not None:
                self.on_state_change(self)

    @property
    def bad_points(self) -> int:
        return sum(1 for p in self.points.values() if p.status is not None and p.status & 0x80000000)


class Source(Protocol):
    """A southbound connector instance (one endpoint / broker connection)."""

    name: str

    async def run(self, emit: Emit) -> None:
        """Collect until cancelled; never returns on connection loss (reconnects instead)."""
        ...

    def health(self) -> SourceHealth: ...
