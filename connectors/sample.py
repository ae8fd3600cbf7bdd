"""The one type every connector shares: a timestamped, status-carrying value.

It is deliberately tiny so that sources (OPC UA, MQTT) and sinks (historian,
forwarders, live model) agree on nothing but this. Timestamps are integer
nanoseconds since the Unix epoch, UTC, so they survive every hop exactly.

This module is also the project's one definition of time (epoch ns <-> datetime <-> RFC 3339 text)
and of the point id (``"asset/submodel/idShortPath"``). It imports the standard library only, so
`aas_models` and every connector may use it (see the import rule in the README's architecture section).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, overload

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def now_ns() -> int:
    """Current wall-clock time in ns since the epoch (UTC)."""
    return time.time_ns()


@overload
def datetime_to_ns(dt: datetime) -> int: ...


@overload
def datetime_to_ns(dt: None) -> None: ...


@overload
def datetime_to_ns(dt: datetime | None) -> int | None: ...


def datetime_to_ns(dt: datetime | None) -> int | None:
    """Exact conversion of an (aware, any zone, or naive-UTC) datetime to epoch nanoseconds."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return ((dt - _EPOCH) // _ONE_US) * 1000


# --- timestamps a connector can trust ------------------------------------------------------------------

# A reading stamped more than this after it was received comes from a wrong clock (or is OPC UA's
# "no end" DateTime, 9999-12-31), not from the future. One year: PLC clocks a few hours or days off
# (unsynchronised, wrong zone) are kept as they are, since a correct value with a skewed time is still data.
MAX_AHEAD_NS = 365 * 86400 * 10**9

# Sample.flags: what the connector (or the historian) had to repair to keep a sample
FLAG_SOURCE_TS_INVALID = 1  # the source sent a source timestamp that is no time (null, before 1970, far future)
FLAG_SERVER_TS_INVALID = 2  # the same for the server timestamp
FLAG_RECEIVED_TS_INVALID = 4  # the receive time was unusable and the historian replaced it with its own clock

FLAG_NAMES: dict[int, str] = {
    FLAG_SOURCE_TS_INVALID: "SourceTimestampInvalid",
    FLAG_SERVER_TS_INVALID: "ServerTimestampInvalid",
    FLAG_RECEIVED_TS_INVALID: "ReceivedTimestampInvalid",
}


def flag_names(flags: int) -> list[str]:
    """The names of the bits set in `flags` (unknown bits as hex), lowest bit first."""
    names = [name for bit, name in FLAG_NAMES.items() if flags & bit]
    unknown = flags & ~sum(FLAG_NAMES)
    if unknown:
        names.append(f"0x{unknown:X}")
    return names


def plausible_ns(ns: int | None, received_ns: int) -> int | None:
    """`ns` if it can be the time of a reading received at `received_ns`, else None (absent).

    The rule every connector applies: after 1970-01-01T00:00:00Z (0, the Unix "null" time, and anything
    before it is not a time a machine measured: OPC UA's null DateTime 1601-01-01 lands here) and at most
    MAX_AHEAD_NS after it was received. A sample whose timestamp is dropped keeps its value and is flagged.
    """
    if ns is None or 0 < ns <= received_ns + MAX_AHEAD_NS:
        return ns
    return None


def timestamp_ns(dt: datetime | None, received_ns: int) -> int | None:
    """A protocol's datetime as epoch ns if plausible (see plausible_ns), else None: the one conversion
    connectors use for the timestamps a peer sends."""
    if dt is None:
        return None
    return plausible_ns(datetime_to_ns(dt), received_ns)


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds to an aware UTC datetime (microsecond resolution)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


_SECONDS: dict[int, str] = {}  # "YYYY-MM-DDTHH:MM:SS" by epoch second: samples cluster in few seconds
_SECONDS_MAX = 4096
_YEAR_10000 = 253402300800


def ns_to_iso(ns: int) -> str:
    """Epoch nanoseconds to an RFC 3339 / xs:dateTime string ending in Z (microseconds shown when not 0).

    Called for every sample an API answer or an MQTT payload carries, hence the per-second cache;
    the text is the same as ``ns_to_datetime(ns).isoformat()`` with ``Z`` for ``+00:00``.
    """
    sec, us = divmod(ns // 1000, 1_000_000)
    head = _SECONDS.get(sec)
    if head is None:
        if not 0 <= sec < _YEAR_10000:  # strftime pads years < 1000 differently
            return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        head = _SECONDS[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{head}.{us:06d}Z" if us else f"{head}Z"


def point_id(asset: str, submodel: str, path: str) -> str:
    """The gateway-wide id of a point, carried by every Sample: ``"asset/submodel/idShortPath"``.

    Interned: start-up builds the id of every point in a dozen places (pipeline, model, sources, historian,
    API, dashboard), and without interning each keeps its own copy: ~7 MB at 10,000 points (issue 9).
    """
    return sys.intern(f"{asset}/{submodel}/{path}")


def split_point_id(pid: str) -> tuple[str, str, str]:
    """``"asset/submodel/idShortPath"`` -> its three parts (the path may itself contain '/')."""
    parts = pid.split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"point id {pid!r} is not of the form 'asset/submodel/idShortPath'")
    # asset and submodel interned: the historian keeps them per series, one copy per point before (issue 9)
    return sys.intern(parts[0]), sys.intern(parts[1]), parts[2]


@dataclass(slots=True)
class Sample:
    """One reading of one point.

    ``point`` is the gateway-wide point id the connector was configured with
    (``"{asset}/{submodel}/{idShortPath}"``); ``status`` is an OPC UA status
    code (0 = Good) whatever the source protocol, so quality travels with the
    value to every sink. ``value`` is None when the status is bad. ``flags``
    (FLAG_* bits) say which field was repaired on the way, e.g. a source
    timestamp that was no time and is therefore absent: the sample is kept.
    """

    point: str
    value: Any
    source_ts: int | None
    server_ts: int | None
    received_ts: int
    status: int = 0
    flags: int = 0

    @property
    def ts(self) -> int:
        """The timestamp the sample is filed under: source, else server, else receive time."""
        if self.source_ts is not None:
            return self.source_ts
        if self.server_ts is not None:
            return self.server_ts
        return self.received_ts
