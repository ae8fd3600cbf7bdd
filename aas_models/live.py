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


class _LiveQualifier(model.Qualifier):
    """A live-state qualifier: a real BaSyx Qualifier whose constant parts live on its class.

    BaSyx's Qualifier keeps ten attributes and two ConstrainedLists per instance (~370 bytes); three per point
    made ~11 MB at 10,000 points (issue 9). An instance of this class holds its value and its parent in slots
    (~90 bytes); type, valueType, kind and semanticId are class constants, shared by every point, and the
    supplemental semanticIds an empty tuple. It is still a Qualifier in every respect serialisers and readers
    use (`isinstance`, the properties, the qualifier set's key `type`), and whatever code assigns through
    BaSyx's setters lands in an instance dict as with any Qualifier.
    """

    __slots__ = ("_value", "parent")
    value_id = None
    kind = model.QualifierKind.VALUE_QUALIFIER
    # read-only on purpose: one tuple for every instance (BaSyx's setter would give an instance its own list)
    _supplemental_semantic_id = ()  # type: ignore[assignment]

    def __init__(self, value: Any = None) -> None:  # BaSyx's __init__ would set the constants per instance
        self._value = value
        self.parent = None


class SourceTimestampQualifier(_LiveQualifier):
    __slots__ = ()
    _type = Q_SOURCE_TIMESTAMP
    value_type = model.datatypes.DateTime
    _semantic_id = _ext(ids.QUALIFIER_SOURCE_TIMESTAMP)


class StatusCodeQualifier(_LiveQualifier):
    __slots__ = ()
    _type = Q_STATUS_CODE
    value_type = model.datatypes.String
    _semantic_id = _ext(ids.QUALIFIER_STATUS_CODE)


class QualityQualifier(_LiveQualifier):
    __slots__ = ()
    _type = Q_QUALITY
    value_type = model.datatypes.String
    _semantic_id = _ext(ids.QUALIFIER_QUALITY)


# the value types of the SourceTimestamp, StatusCode and Quality qualifiers _live_qualifiers makes
_LIVE_TYPES = (model.datatypes.DateTime, model.datatypes.String, model.datatypes.String)


def _live_qualifiers(element: model.SubmodelElement) -> list[model.Qualifier]:
    """The element's SourceTimestamp, StatusCode and Quality qualifiers, added if missing."""
    initial = BAD_WAITING_FOR_INITIAL_DATA
    kinds: tuple[tuple[type[_LiveQualifier], str, Any], ...] = (
        (SourceTimestampQualifier, Q_SOURCE_TIMESTAMP, None),
        (StatusCodeQualifier, Q_STATUS_CODE, _STATUS_TEXTS.get(initial) or _status_text(initial)),  # shared
        (QualityQualifier, Q_QUALITY, quality_name(initial)),
    )
    handles = []
    for cls, name, value in kinds:
        try:
            q = element.get_qualifier_by_type(name)
        except KeyError:
            q = cls(value)
            element.qualifier.add(q)
        handles.append(q)
    return handles


class Live:
    """One point's element and its live qualifiers, resolved once: what every sample of the point is written into.

    Held by whoever writes samples (the pipeline's live-model sink keeps one per point), never stored on the
    element: an attribute added to a BaSyx object after its __init__ turns its shared-key instance dict into a
    private one, ~690 bytes per Property (issue 9), and BaSyx serialisers would not need it anyway.
    """

    __slots__ = ("convert", "direct", "element", "q_quality", "q_status", "q_ts", "scalar")

    def __init__(self, element: model.SubmodelElement) -> None:
        self.element = element
        self.q_ts, self.q_status, self.q_quality = handles = _live_qualifiers(element)
        self.scalar = isinstance(element, model.Property)
        self.convert = converter(element.value_type) if isinstance(element, model.Property) else None
        # `set` stores into the qualifiers' `_value` directly when their types are ours (a qualifier that came with
        # a template may have another): BaSyx's setter would cast a datetime to xs:dateTime and a str to
        # xs:string, which returns the very object, at a cost of ~3 % of the gateway's CPU per sample
        self.direct = tuple(q.value_type for q in handles) == _LIVE_TYPES

    def set(self, value: Any, source_ts_ns: int | None, status: int) -> None:
        """Store one sample: value (unless bad), source timestamp and status (see `set_live_value`)."""
        if not self.scalar:
            self._set_element(value, source_ts_ns, status)
            return
        prop: Any = self.element
        if not status & BAD_MASK:
            conv = self.convert
            try:
                v = value if conv is None else conv(value)
                if v.__class__ is prop.value_type:
                    prop._value = v  # what the setter stores for it (see `direct`)
                else:
                    prop.value = v
            except (TypeError, ValueError, ArithmeticError):
                status = BAD_TYPE_MISMATCH
        ts = None if source_ts_ns is None else _EPOCH + timedelta(microseconds=source_ts_ns // 1000)
        text = _STATUS_TEXTS.get(status) or _status_text(status)
        if self.direct:
            self.q_ts._value = ts
            self.q_status._value = text
            self.q_quality._value = SEVERITY_NAMES[(status >> 30) & 3]
        else:
            self.q_ts.value = ts
            self.q_status.value = text
            self.q_quality.value = SEVERITY_NAMES[(status >> 30) & 3]

    def _set_element(self, value: Any, source_ts_ns: int | None, status: int) -> None:
        """Lists, collections and multi-language properties (see `aas_models.elements`), off the hot path."""
        element = self.element
        if not status & BAD_MASK:
            try:
                elements.fill(element, elements.point_type_of(element), value)
            except (TypeError, ValueError, ArithmeticError, KeyError):
                status = BAD_TYPE_MISMATCH
        self.q_ts.value = None if source_ts_ns is None else ns_to_datetime(source_ts_ns)
        self.q_status.value = _STATUS_TEXTS.get(status) or _status_text(status)
        self.q_quality.value = quality_name(status)


def attach(element: model.SubmodelElement) -> Live:
    """Give `element` the live-state qualifiers (if missing); the handle to write its samples through."""
    return Live(element)


def set_live_value(element: model.SubmodelElement, value: Any, source_ts_ns: int | None, status: int) -> None:
    """Store one sample in `element`: value (unless bad), source timestamp and status.

    `value` is already coerced by `aas_models.datatypes.coercer` (xs:dateTime as an ISO string). A value
    that still does not fit the Property's type is not stored and the status becomes BadTypeMismatch, so the
    problem is visible. Elements other than a scalar Property (lists, collections, multi-language
    properties) are filled item by item. This resolves the element's qualifiers on every call: writers of
    many samples keep an `attach`ed `Live` per element and call its `set` (the pipeline does).
    """
    Live(element).set(value, source_ts_ns, status)


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
