"""The embedded historian: durable SQLite store-and-forward buffer and history source of the gateway."""

from gateway.historian.records import (
    Bucket,
    HistorianStats,
    HistoryRow,
    RetentionResult,
    SeriesInfo,
)
from gateway.historian.schema import SCHEMA_VERSION, SchemaError
from gateway.historian.store import Historian, HistorianClosedError, UnknownPointError, split_point_id

__all__ = [
    "SCHEMA_VERSION",
    "Bucket",
    "Historian",
    "HistorianClosedError",
    "HistorianStats",
    "HistoryRow",
    "RetentionResult",
    "SchemaError",
    "SeriesInfo",
    "UnknownPointError",
    "split_point_id",
]
