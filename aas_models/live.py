"""Writing live samples into the model: the pipeline's hot path.

Every sample of every point ends in `set_live_value`, thousands of times per
second, so the work per call is a few attribute sets on objects created at
build time (no list edits, no lookups by name).

Representation (all of it constraint-clean Normal JSON, checked by
aas-test-engines in the tests):

- ``Property.value``: the last *usable* value. A sample with a bad status
  (``status & 0x80000000``) does not overwrite it; before the first good
  sample it is ``None``. A point that is not a scalar Property (an array's
  SubmodelElementList, a structure's SubmodelElementCollection, a
  LocalizedText's MultiLanguageProperty) keeps its last usable value in its
  items, children or texts the same way (`aas_models.elements`), and carries
  the same three qualifiers below.
- Qualifier ``SourceTimestamp`` (xs:dateTime, ValueQualifier): source time of
  the latest sample, good or bad, UTC with microsecond resolution.
- Qualifier ``StatusCode`` (xs:string, ValueQualifier): the OPC UA status code
  of the latest sample as ``0x`` + 8 hex digits; ``0x80320000``
  (BadWaitingForInitialData) until the first sample arrives. A string, not
  xs:unsignedInt, because BaSyx drops falsy qualifier values from Normal JSON,
  so Good (0) would vanish.
- Qualifier ``Quality`` (xs:string, ValueQualifier): ``Good``, ``Uncertain`` or
  ``Bad``, the severity bits of the status code, so a client can spot bad data
  without decoding numbers. With ``Bad`` the value is the last good one and
  the timestamp is that of the bad sample.
- Qualifier ``Unit`` (xs:string, ConceptQualifier) and ``Writable``
  (xs:boolean ``true``, ConceptQualifier) are static and set by the builder;
  a read-only point has no ``Writable`` qualifier (again: BaSyx would drop
  ``false``).

Qualifiers rather than an IEC 61360 data specification: a data specification
needs a preferredName in English and more (AASc-3a-002/-009), belongs on a
ConceptDescription, and cannot carry per-sample state; qualifiers are the
metamodel's place for facts about one element instance.
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from basyx.aas import model

from aas_models import elements, ids

# status codes and time come from the dependency-free shared core (stdlib only): one definition for every layer
from connectors.sample import ns_to_datetime
from connectors.status import (
    BAD_MASK,
    BAD_TYPE_MISMATCH,
    BAD_WAITING_FOR_INITIAL_DATA,
    GOOD,
    SEVERITY_NAMES,
    quality_name,
    status_text,
)

Q_SOURCE_TIMESTAMP = "SourceTimestamp"
Q_STATUS_CODE = "StatusCode"
Q_QUALITY = "Quality"
Q_UNIT = "Unit"
Q_WRITABLE = "Writable"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the hot path inlines ns_to_datetime

# StatusCode qualifier texts by code: a point keeps its text until its next sample, and nearly every point shows
# one of a few codes (Good above all), so one shared string per code instead of one per point (~0.6 MB at 10,000
# points, issue 9), and a dict lookup instead of formatting per sample. Bounded: a server may send any code.
_STATUS_TEXTS: dict[int, str] = {}
_STATUS_TEXTS_MAX = 256


def _status_text(status: int) -> str:
    """`status_text(status)`, shared: the hot path's miss (see _STATUS_TEXTS)."""
    if len(_STATUS_TEXTS) >= _STATUS_TEXTS_MAX:
        _STATUS_TEXTS.clear()
    text = _STATUS_TEXTS[status] = status_text(status)
    return text


@functools.cache
def _ext(iri: str) -> model.ExternalReference:
    """The semanticId of a live qualifier: one object per IRI, shared by every point's qualifier.

    BaSyx References are immutable, so sharing them is safe; one each cost ~650 bytes per point.
    """
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _parse_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    if isinstance(v, str):
        dt = datetime.fromisoformat(v)  # 3.11 accepts the trailing 'Z'
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    raise TypeError(f"cannot use {type(v).__name__} as xs:dateTime")


def _to_decimal(v: Any) -> decimal.Decimal:
    if isinstance(v, decimal.Decimal):
        d = v
    elif isinstance(v, bool):
        d = decimal.Decimal(int(v))
    elif isinstance(v, int):
        d = decimal.Decimal(v)
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{v!r} is not an xs:decimal (no NaN or infinity)")
        d = decimal.Decimal(repr(v))  # the shortest repr, not the binary expansion
    else:
        d = decimal.Decimal(str(v))
    if not d.is_finite():
        raise ValueError(f"{v!r} is not an xs:decimal (no NaN or infinity)")
    return d


def _parse_duration(v: Any) -> Any:
    if isinstance(v, str):
        return model.datatypes.from_xsd(v, model.datatypes.Duration)
    return v


def converter(value_type: type) -> Callable[[Any], Any] | None:
    """What turns a pipeline value into what BaSyx stores for `value_type`; None if BaSyx casts it itself."""
    if value_type is model.datatypes.DateTime:
        return _parse_datetime
    if value_type is model.datatypes.Duration:
        return _parse_duration
    if value_type is model.datatypes.Decimal:
        return _to_decimal
    return None


# the value types of the SourceTimestamp, StatusCode and Quality qualifiers _live_qualifiers makes
_LIVE_TYPES = (model.datatypes.DateTime, model.datatypes.String, model.datatypes.String)


def _make_qualifier(type_: str, value_type: type, value: Any, kind: model.QualifierKind, sem: str) -> model.Qualifier:
    return model.Qualifier(type_, value_type, value=value, kind=kind, semantic_id=_ext(sem))


def _live_qualifiers(element: model.SubmodelElement) -> list[model.Qualifier]:
    """The element's SourceTimestamp, StatusCode and Quality qualifiers, added if missing."""
    vq = model.QualifierKind.VALUE_QUALIFIER
    specs: tuple[tuple[str, type, Any, str], ...] = (
        (Q_SOURCE_TIMESTAMP, model.datatypes.DateTime, None, ids.QUALIFIER_SOURCE_TIMESTAMP),
        (
            Q_STATUS_CODE,
            model.datatypes.String,
            status_text(BAD_WAITING_FOR_INITIAL_DATA),
            ids.QUALIFIER_STATUS_CODE,
        ),
        (Q_QUALITY, model.datatypes.String, quality_name(BAD_WAITING_FOR_INITIAL_DATA), ids.QUALIFIER_QUALITY),
    )
    handles = []
    for name, vt, initial, sem in specs:
        try:
            q = element.get_qualifier_by_type(name)
        except KeyError:
            q = _make_qualifier(name, vt, initial, vq, sem)
            element.qualifier.add(q)
        handles.append(q)
    return handles


def attach(element: model.SubmodelElement) -> None:
    """Give `element` the live-state qualifiers (if missing) and cache handles to them.

    A scalar Property caches them as ``_q_ts``, ``_q_status``, ``_q_quality`` (the hot path reads
    them); any other element (list, collection, multi-language property) as ``_live_q``, so that
    `set_live_value` never finds ``_q_ts`` on it and hands it to `set_live_element`.
    """
    handles = _live_qualifiers(element)
    if not isinstance(element, model.Property):
        element._live_q = handles  # type: ignore[attr-defined]
        return
    # Cached as plain attributes on the Property: BaSyx serialisers only read model fields, so they
    # never leak, and a Property replaced through the API is attached again on its first sample.
    element._q_ts, element._q_status, element._q_quality = handles  # type: ignore[attr-defined]
    element._convert = converter(element.value_type)  # type: ignore[attr-defined]
    # set_live_value stores into the qualifiers' `_value` directly when their types are ours (a qualifier that
    # came with a template may have another): BaSyx's setter would cast a datetime to xs:dateTime and a str
    # to xs:string, which returns the very object, at a cost of ~3 % of the gateway's CPU per sample
    element._q_direct = tuple(q.value_type for q in handles) == _LIVE_TYPES  # type: ignore[attr-defined]


def set_live_value(prop: model.SubmodelElement, value: Any, source_ts_ns: int | None, status: int) -> None:
    """Store one sample in `prop`: value (unless bad), source timestamp and status.

    `value` is already coerced by `aas_models.datatypes.coercer` (xs:dateTime
    as an ISO string). A value that still does not fit the Property's type is
    not stored and the status becomes BadTypeMismatch, so the problem is visible.
    Elements other than a scalar Property (lists, collections, multi-language
    properties) go to `set_live_element`, off this hot path.
    """
    try:
        q_ts: model.Qualifier = prop._q_ts  # type: ignore[attr-defined]
    except AttributeError:
        if not isinstance(prop, model.Property):
            set_live_element(prop, value, source_ts_ns, status)
            return
        attach(prop)
        q_ts = prop._q_ts  # type: ignore[attr-defined]
    if not status & BAD_MASK:
        conv = prop._convert  # type: ignore[attr-defined]
        try:
            v = value if conv is None else conv(value)
            if v.__class__ is prop.value_type:  # type: ignore[attr-defined]
                prop._value = v  # type: ignore[attr-defined]  # what the setter stores for it (see attach)
            else:
                prop.value = v  # type: ignore[attr-defined]
        except (TypeError, ValueError, ArithmeticError):
            status = BAD_TYPE_MISMATCH
    ts = None if source_ts_ns is None else _EPOCH + timedelta(microseconds=source_ts_ns // 1000)
    text = _STATUS_TEXTS.get(status) or _status_text(status)
    if prop._q_direct:  # type: ignore[attr-defined]
        q_ts._value = ts
        prop._q_status._value = text  # type: ignore[attr-defined]
        prop._q_quality._value = SEVERITY_NAMES[(status >> 30) & 3]  # type: ignore[attr-defined]
    else:
        q_ts.value = ts
        prop._q_status.value = text  # type: ignore[attr-defined]
        prop._q_quality.value = SEVERITY_NAMES[(status >> 30) & 3]  # type: ignore[attr-defined]


def set_live_element(element: model.SubmodelElement, value: Any, source_ts_ns: int | None, status: int) -> None:
    """`set_live_value` for lists, collections and multi-language properties (see `aas_models.elements`)."""
    try:
        q_ts, q_status, q_quality = element._live_q  # type: ignore[attr-defined]
    except AttributeError:
        attach(element)
        q_ts, q_status, q_quality = element._live_q  # type: ignore[attr-defined]
    if not status & BAD_MASK:
        try:
            elements.fill(element, elements.point_type_of(element), value)
        except (TypeError, ValueError, ArithmeticError, KeyError):
            status = BAD_TYPE_MISMATCH
    q_ts.value = None if source_ts_ns is None else ns_to_datetime(source_ts_ns)
    q_status.value = _STATUS_TEXTS.get(status) or _status_text(status)
    q_quality.value = quality_name(status)


def status_of(prop: model.SubmodelElement) -> int:
    """The status code of the latest sample (BadWaitingForInitialData before the first): the inverse of
    `set_live_value` for readers of the model (the dashboard)."""
    try:
        v = prop.get_qualifier_by_type(Q_STATUS_CODE).value
    except KeyError:
        return GOOD if getattr(prop, "value", None) is not None else BAD_WAITING_FOR_INITIAL_DATA
    return int(str(v), 16) if v else BAD_WAITING_FOR_INITIAL_DATA


def source_timestamp_of(prop: model.SubmodelElement) -> datetime | None:
    """The source time of the latest sample, if it had one."""
    try:
        v = prop.get_qualifier_by_type(Q_SOURCE_TIMESTAMP).value
    except KeyError:
        return None
    return v if isinstance(v, datetime) else None
