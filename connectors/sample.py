"""The one type every connector shares: a timestamped, status-carrying value.

It is deliberately tiny so that sources (OPC UA, MQTT) and sinks (historian,
forwarders, live model) agree on nothing but this. Timestamps are integer
nanoseconds since the Unix epoch, UTC, so they survive every hop exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def now_ns() -> int:
    """Current wall-clock time in ns since the epoch (UTC)."""
    return time.time_ns()


def datetime_to_ns(dt: datetime | None) -> int | None:
    """Exact conversion of an (aware or naive-UTC) datetime to epoch nanoseconds."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return ((dt - _EPOCH) // _ONE_US) * 1000


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds to an aware UTC datetime (microsecond resolution)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def ns_to_iso(ns: int) -> str:
    """Epoch nanoseconds to an RFC 3339 / xs:dateTime string ending in Z."""
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Sample:
    """One reading of one point.

    ``point`` is the gateway-wide point id the connector was configured with
    (``"{asset}/{submodel}/{idShortPath}"``); ``status`` is an OPC UA status
    code (0 = Good) whatever the source protocol, so quality travels with the
    value to every sink. ``value`` is None when the status is bad.
    """

    point: str
    value: Any
    source_ts: int | None
    server_ts: int | None
    received_ts: int
    status: int = 0

    @property
    def ts(self) -> int:
        """The timestamp the sample is filed under: source, else server, else receive time."""
        if self.source_ts is not None:
            return self.source_ts
        if self.server_ts is not None:
            return self.server_ts
        return self.received_ts
