"""The small interface every source connector implements.

Like Telegraf's inputs, a source knows its protocol and nothing else: it is
given point specs, runs until cancelled, and hands batches of Samples to an
``emit`` coroutine. Health (connection state, per-point status) is readable
at any time so the gateway can show data freshness without knowing the
protocol. Adding a connector means adding a package whose descriptor registers
it (`connectors/registry.py`); nothing in the gateway changes.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from connectors.sample import Sample
from connectors.status import BAD_MASK

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
        return sum(1 for p in self.points.values() if p.status is not None and p.status & BAD_MASK)


class Source(Protocol):
    """A southbound connector instance (one endpoint / broker connection)."""

    name: str

    async def run(self, emit: Emit) -> None:
        """Collect until cancelled; never returns on connection loss (reconnects instead)."""
        ...

    def health(self) -> SourceHealth: ...


class WriteError(Exception):
    """The machine did not take a written value; `status` names why in OPC UA terms.

    `status` is a status code name (BadUserAccessDenied, BadOutOfRange, BadNotConnected,
    BadTimeout ...), the quality model of every connector, so the API can report any protocol's
    refusal the same way.
    """

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class WriteValueError(WriteError):
    """The value cannot be sent in the point's type (e.g. text that is no NodeId); nothing was sent."""


@runtime_checkable
class WritableSource(Protocol):
    """A source that can also write a point's value to the machine (optional capability).

    `value` is a plain Python value (bool, int, float, str, datetime) already checked against
    `value_type`, the point's AAS valueType (xs:double ...), which says how the protocol should
    encode it. Returns once the machine acknowledged; raises WriteError otherwise. The written
    value is not emitted as a Sample: it comes back through the normal collection path, with the
    machine's own timestamp.
    """

    async def write(self, point_id: str, value: object, value_type: str) -> None: ...


# --- northbound: forwarders hand stored samples to sinks -------------------------------------


@dataclass(frozen=True, slots=True)
class PointMeta:
    """What a northbound sink may say about a point (topic names, tags), fixed at startup."""

    point_id: str  # "{asset}/{submodel}/{idShortPath}"
    asset: str  # AAS idShort of the asset
    aas_id: str  # AAS identifier
    submodel: str  # submodel idShort
    path: str  # idShortPath
    value_type: str  # xs:double, xs:int, xs:boolean, xs:string, ...
    unit: str | None = None
    semantic_id: str | None = None
    event: bool = False  # values are event messages (JSON object text), not readings: see gateway/derived.py


class Record(NamedTuple):
    """A sample as the historian stored it: `seq` is its position, the forwarders' cursor.

    A NamedTuple, not a dataclass: forwarders build hundreds of thousands per second.
    """

    seq: int
    sample: Sample


@dataclass(slots=True)
class SendResult:
    """What the peer acknowledged. Every record of the batch is either delivered or rejected.

    `rejected` holds records no retry can fix (e.g. an HTTP 400 for that line), with the reason;
    the forwarder files them as dead letters and moves on. Anything that *can* be retried is
    signalled by raising TransientError instead, and nothing of the batch counts as delivered.
    """

    delivered: int = 0
    rejected: list[tuple[Record, str]] = field(default_factory=list)


class TransientError(Exception):
    """The peer is unreachable or overloaded; retry the same batch later (after `retry_after_s` if set)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ForwardSink(Protocol):
    """A northbound connector (InfluxDB, MQTT ...), driven by a cursor-based forwarder.

    Not the pipeline's `SampleConsumer`: a ForwardSink gets stored Records from the historian,
    in seq order, and its acknowledgement moves the forwarder's cursor. The batch builds its
    Records on first access, reading their timestamps from the historian file (a few ms for
    thousands): a sink touches them in a worker thread, as the MQTT and InfluxDB sinks do.
    """

    name: str

    async def start(self) -> None:
        """Prepare (connect lazily is fine); must not fail because the peer is down."""
        ...

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        """Deliver `records` (in seq order) and return once the peer acknowledged them.

        Records whose sample was received before `historical_before_ns` are replays (they were
        not sent in real time) and are flagged so where the protocol can say it. Raise
        TransientError for anything worth retrying.
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class PreparesBatches(Protocol):
    """Optional for a ForwardSink: work on the next batch while the current one is on the wire.

    The forwarder reads batch N+1 from the historian while batch N is being sent; a sink with this
    method is handed batch N+1 then too, so its CPU work (the InfluxDB sink encodes its lines)
    overlaps the peer's instead of following it. `send` must give the same result whether or not
    `prepare` ran on its records (a batch may be sent without, or prepared and then dropped).
    """

    async def prepare(self, records: Sequence[Record]) -> None: ...
