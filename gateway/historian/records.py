"""The plain result types the historian hands out (to the REST API, forwarders and tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    id: int
    point_id: str
    asset: str
    submodel: str
    path: str
    value_type: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    seq: int
    ts: int
    value: Any
    status: int
    source_ts: int | None
    server_ts: int | None
    recv_ts: int
    flags: int = 0  # connectors.sample.FLAG_*: fields repaired to keep the sample


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregate of the good, non-null numeric samples in [start_ns, start_ns + bucket_ns)."""

    start_ns: int
    count: int
    min: Any
    max: Any
    avg: float
    last: Any
    first_ts: int
    last_ts: int


@dataclass(frozen=True, slots=True)
class HistorianStats:
    rows: int
    series: int
    file_bytes: int
    wal_bytes: int
    used_bytes: int
    oldest_ts: int | None
    newest_ts: int | None
    pending: int
    healthy: bool
    last_error: str | None


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What became of the samples handed to the historian since it was opened (of one asset, or all).

    ``committed`` are rows in ``samples``; ``dead_lettered`` were refused by SQLite and are rows in
    ``dead_letters`` (forwarder 'historian') with the reason; ``lost`` are neither (only when even the
    dead-letter row could not be written, or at a shutdown that had to give up on an unwritable file).
    """

    committed: int = 0
    dead_lettered: int = 0
    lost: int = 0
    last_refusal: str | None = None  # "<UTC time> <point>: <reason>" of the latest refused sample


@dataclass(frozen=True, slots=True)
class Refusals:
    """Samples the historian refused (dead-lettered or lost) within a recent window, and the latest reason."""

    count: int
    window_s: float
    last_reason: str | None
    last_point: str | None
    seconds_ago: float | None


@dataclass(slots=True)
class RetentionResult:
    """What one retention pass did.

    ``kept_age`` counts samples older than max_age_days that were kept because a forwarder cursor has
    not acknowledged them; ``kept_size`` estimates how many more samples would have had to go to get
    under max_size_mb but were protected the same way (``over_size`` is then True).
    """

    deleted_age: int = 0
    deleted_size: int = 0
    dropped_unforwarded: int = 0  # deleted above the smallest cursor because max_disk_mb was reached
    kept_age: int = 0
    kept_size: int = 0
    over_size: bool = False
    vacuumed_pages: int = 0
    min_cursor: tuple[str, int] | None = field(default=None)

    @property
    def deleted(self) -> int:
        return self.deleted_age + self.deleted_size + self.dropped_unforwarded
