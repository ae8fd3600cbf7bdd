"""History of a point over the REST API, independent of how the historian stores it.

The API knows submodels and idShortPaths, the historian knows point ids; the
`HistoryBackend` protocol is the seam between them. `historian_backend` adapts
the gateway's historian to it (with the element -> point mapping built once from
the configuration); tests use an in-memory fake.
"""

# no `from __future__ import annotations`: FastAPI must see the dependency types defined inside the factories
import base64
import math
import re
import time
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from basyx.aas import model
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from connectors import status as opc_status
from connectors.sample import datetime_to_ns, flag_names, ns_to_iso, split_point_id
from gateway.api.encoding import json_response
from gateway.api.errors import BadRequest, NotFound, excerpt
from gateway.historian.records import Bucket, HistoryRow

if TYPE_CHECKING:
    from gateway.historian import Historian

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000
DEFAULT_SPAN_NS = 3600 * 10**9
MAX_BUCKET_S = 100 * 366 * 86400  # a century: wider buckets mean nothing, and ns arithmetic must stay finite
# the historian stores SQLite INTEGER (signed 64-bit) nanoseconds: 1677-09-21 .. 2262-04-11
_MIN_NS, _MAX_NS = -(2**63), 2**63 - 1
AGGREGATES = ("min", "max", "avg", "count", "last")


class HistoryBackend(Protocol):
    def point_for(self, submodel_id: str, id_short_path: str) -> str | None:
        """The point id historised for this element, or None if it is not historised."""
        ...

    async def samples(self, point_id: str, start_ns: int | None, end_ns: int | None, limit: int) -> list[HistoryRow]:
        ...

    async def buckets(self, point_id: str, start_ns: int, end_ns: int, bucket_ns: int) -> list[Bucket]:
        ...


class _HistorianBackend:
    """The historian as a HistoryBackend: (submodel id, idShortPath) -> point id -> its stored samples."""

    def __init__(self, historian: "Historian", mapping: Iterable[tuple[str, str, str]]) -> None:
        self._historian = historian
        self._points = {(sm, path): pid for sm, path, pid in mapping}

    def point_for(self, submodel_id: str, id_short_path: str) -> str | None:
        return self._points.get((submodel_id, id_short_path))

    async def samples(self, point_id: str, start_ns: int | None, end_ns: int | None, limit: int) -> list[HistoryRow]:
        asset, submodel, path = split_point_id(point_id)
        return await self._historian.query(asset, submodel, path, start_ns, end_ns, limit)

    async def buckets(self, point_id: str, start_ns: int, end_ns: int, bucket_ns: int) -> list[Bucket]:
        asset, submodel, path = split_point_id(point_id)
        return await self._historian.aggregate(asset, submodel, path, start_ns, end_ns, bucket_ns)


def historian_backend(historian: "Historian", mapping: Iterable[tuple[str, str, str]]) -> HistoryBackend:
    """The history route over `historian`; `mapping`: (submodel id, idShortPath, point id) of every
    historised point."""
    return _HistorianBackend(historian, mapping)


# --- response models (OpenAPI documentation; responses are serialised directly) ----------------------------------


class HistorySample(BaseModel):
    timestamp: str = Field(description="xs:dateTime (UTC, Z) the sample is filed under: source, else server time")
    value: Any = Field(description="The value as native JSON, as `$value` shows the element (number, boolean, "
                       "string; an array, object or [{language: text}] for arrays, structures and "
                       "LocalizedText; base64 for ByteString), null if bad")
    status: str = Field(description="'Good' or the OPC UA status code name")
    statusCode: int = Field(description="Numeric OPC UA status code (0 = Good)")
    sourceTimestamp: str | None = None
    serverTimestamp: str | None = None
    flags: list[str] | None = Field(
        None, description="Only when the gateway repaired the sample to keep it, e.g. 'SourceTimestampInvalid': "
        "the source sent a timestamp that is no time (null, before 1970, over a year ahead), left out here")


class HistorySamples(BaseModel):
    samples: list[HistorySample]


class HistoryBucket(BaseModel):
    start: str = Field(description="Start of the bucket [start, start + bucket)")
    count: int | None = Field(None, description="Number of good numeric samples in the bucket")
    min: float | int | None = None
    max: float | int | None = None
    avg: float | None = None
    last: float | int | None = None


class HistoryBuckets(BaseModel):
    buckets: list[HistoryBucket]


# --- parameters --------------------------------------------------------------------------------------------------

_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_time(text: str | None, name: str) -> int | None:
    """RFC 3339 / xs:dateTime -> epoch ns; a time without offset is taken as UTC."""
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"'{name}' must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, "
                         f"got {excerpt(text)!r}") from None
    ns = datetime_to_ns(dt)  # naive = UTC; integer arithmetic, so microseconds survive far from 1970
    if not _MIN_NS <= ns <= _MAX_NS:
        raise BadRequest(f"'{name}' must lie between 1677-09-22 and 2262-04-11 (the historian's time range)")
    return ns


def parse_bucket(text: str | None) -> int | None:
    """ISO 8601 duration (PT1M, PT0.5S, P1D) or plain seconds -> ns."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > 40:
        raise BadRequest(f"'bucket' must be an ISO 8601 duration such as PT1M or seconds, got {excerpt(text, 40)!r}")
    seconds: float
    m = _DURATION.fullmatch(text)
    if m and text not in ("P", "PT") and not text.endswith("T"):
        seconds = sum(float(m.group(k) or 0) * f for k, f in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))
    else:
        try:
            seconds = float(text)
        except ValueError:
            raise BadRequest(f"'bucket' must be an ISO 8601 duration such as PT1M or seconds, got {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise BadRequest("'bucket' must be a positive duration")
    if seconds > MAX_BUCKET_S:
        raise BadRequest(f"'bucket' must be at most {MAX_BUCKET_S} s (100 years)")
    ns = round(seconds * 10**9)
    if ns < 1_000_000:
        raise BadRequest("'bucket' must be at least 1 ms")
    return ns


def parse_aggregates(text: str | None) -> tuple[str, ...]:
    if text is None:
        return AGGREGATES
    wanted = tuple(a.strip() for a in text.split(",") if a.strip())
    unknown = [a for a in wanted if a not in AGGREGATES]
    if unknown or not wanted:
        raise BadRequest(f"'agg' must be a comma-separated subset of {','.join(AGGREGATES)}")
    return wanted


# --- rendering ---------------------------------------------------------------------------------------------------


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN/Infinity
    if isinstance(v, bytes):  # a ByteString point (xs:base64Binary), as its ValueOnly form shows it
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, Decimal):  # xs:decimal: a number when one holds it exactly, else its digits as a string
        if not v.is_finite():
            return None
        if v == v.to_integral_value():
            return int(v)
        return f if Decimal(f := float(v)) == v else str(v)
    return v  # ints of any size are exact JSON numbers


def _status(code: int) -> str:
    return "Good" if code == 0 else opc_status.status_name(code)


def sample_dict(row: HistoryRow) -> dict[str, Any]:
    out = {
        "timestamp": ns_to_iso(row.ts),
        "value": _json_value(row.value),
        "status": _status(row.status),
        "statusCode": row.status,
        "sourceTimestamp": ns_to_iso(row.source_ts) if row.source_ts is not None else None,
        "serverTimestamp": ns_to_iso(row.server_ts) if row.server_ts is not None else None,
    }
    if row.flags:
        out["flags"] = flag_names(row.flags)
    return out


def bucket_dict(b: Bucket, aggs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"start": ns_to_iso(b.start_ns)}
    for a in aggs:
        out[a] = _json_value(getattr(b, a))
    return out


FromParam = Annotated[
    str | None, Query(alias="from", description="Start (inclusive), RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z")
]
ToParam = Annotated[str | None, Query(alias="to", description="End (exclusive), RFC 3339 date-time; default now")]
HistoryLimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Maximum number of samples or buckets (max {MAX_LIMIT})")
]
BucketParam = Annotated[
    str | None,
    Query(description="Aggregate into buckets of this width: ISO 8601 duration (PT1M, PT0.5S) or seconds (60)"),
]
AggParam = Annotated[
    str | None,
    Query(description="Aggregates per bucket, comma-separated subset of min,max,avg,count,last (default all)"),
]


def add_history_route(
    router: APIRouter,
    element_dep: Any,
    backend: HistoryBackend | None,
    tags: list[str | Enum],
) -> None:
    """GET {idShortPath}/history on `router`; `element_dep` resolves (submodel, element, path)."""

    @router.get(
        "/submodel-elements/{idShortPath}/history",
        summary="History of a point: raw samples, or aggregated buckets (numeric points) with `bucket`",
        response_model=HistorySamples | HistoryBuckets,
        tags=tags,
        responses={400: {"description": "Invalid parameters"}, 404: {"description": "Not found or not historised"}},
    )
    async def get_history(
        target: Annotated[tuple[model.Submodel, model.SubmodelElement, str], Depends(element_dep)],
        start: FromParam = None,
        end: ToParam = None,
        limit: HistoryLimitParam = DEFAULT_LIMIT,
        bucket: BucketParam = None,
        agg: AggParam = None,
    ) -> Response:
        submodel, _element, path = target
        start_ns, end_ns = parse_time(start, "from"), parse_time(end, "to")
        bucket_ns, aggs = parse_bucket(bucket), parse_aggregates(agg)
        if start_ns is not None and end_ns is not None and end_ns < start_ns:
            raise BadRequest("'to' is before 'from'")
        if backend is None:
            raise NotFound("This server keeps no history")
        # any element that is a point (a Property, or the list, collection or multi-language property of an
        # array, structure or text point); the elements inside those are not points of their own
        point = backend.point_for(submodel.id, path)
        if point is None:
            raise NotFound(f"The element {path!r} is not historised")
        if bucket_ns is None:
            rows = await backend.samples(point, start_ns, end_ns, limit)
            return json_response({"samples": [sample_dict(r) for r in rows]})
        end_ns = end_ns if end_ns is not None else time.time_ns()
        start_ns = start_ns if start_ns is not None else end_ns - DEFAULT_SPAN_NS
        if (end_ns - start_ns) // bucket_ns > limit:
            raise BadRequest(f"More than {limit} buckets requested: widen 'bucket', narrow from/to or raise 'limit'")
        buckets = await backend.buckets(point, start_ns, end_ns, bucket_ns)
        return json_response({"buckets": [bucket_dict(b, aggs) for b in buckets[:limit]]})

