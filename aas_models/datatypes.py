"""How a reading is coerced into its point's type, once, in the pipeline, so every sink sees the same value.

The type vocabulary lives in `aas_models.pointtypes`. What a coercer returns:

- a scalar that is a Property (every xs type, Guid, NodeId, ExpandedNodeId, QualifiedName,
  XmlElement, StatusCode): a plain Python value: bool, int, float, str, ``bytes`` for
  xs:base64Binary (ByteString), an ISO 8601 string ending in ``Z`` for xs:dateTime;
- anything else (arrays, LocalizedText, structures, DataValue, DiagnosticInfo, Variant): the
  element's ValueOnly JSON value (IDTA-01001), JSON-native all the way down: lists; ``[{"en":
  "text"}]`` for a LocalizedText; a `StructureValue` (a dict keyed by idShort) for a structure;
  leaves as their ValueOnly JSON (bytes as base64 text, NaN/INF as the strings "NaN", "INF", "-INF",
  date-times as ISO text). The historian, MQTT and InfluxDB store or send that JSON as it is, the
  history route returns it, and it is exactly what ``$value`` shows for the element.

A reading that does not fit raises TypeError or ValueError; the pipeline then stores that sample as
BadTypeMismatch. Nothing is ever turned into Python repr text: a list or dict for a scalar type is
a mismatch, not ``str(list)``.

Structures: a source that knows the structure's fields hands over a dict with a ``field_types``
attribute (field name -> type name in this vocabulary, e.g. ``{"Speed": "Double", "Name":
"LocalizedText", "Pos": "Double[]", "Tool": "Structure"}``); nested structures are such dicts too.
The coercer renames fields to valid idShorts (`id_short_of`, collisions numbered) and coerces each
field by its type. A plain dict (e.g. JSON from an MQTT sensor) gets types inferred from its values.
An OPC UA LocalizedText may come as a ``str`` with a ``locale`` attribute; an empty locale becomes
`DEFAULT_LANGUAGE`, because an AAS text needs a language tag.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aas_models.pointtypes import (
    FLOAT_TYPES,
    INT_RANGES,
    NUMERIC_TYPES,
    OPCUA_BUILT_INS,
    VALUE_TYPES,
    PointType,
    canonical_value_type,
    parse_point_type,
)

__all__ = ["DEFAULT_LANGUAGE", "NUMERIC_TYPES", "VALUE_TYPES", "StructureValue", "canonical_value_type", "coercer",
           "id_short_of", "parse_point_type"]

DEFAULT_LANGUAGE = "und"  # BCP 47 "undetermined": what an OPC UA LocalizedText without locale becomes

Coercer = Callable[[Any], Any]

# --------------------------------------------------------------------------------------------- scalars


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
    raise TypeError(f"cannot convert {type(v).__name__} {v!r} to xs:boolean")


def _int_coercer(lo: int, hi: int, vt: str) -> Coercer:
    def coerce(v: Any) -> int:
        if isinstance(v, bool):
            r = int(v)
        elif isinstance(v, int):
            r = v
        elif isinstance(v, float):
            if not v.is_integer():
                raise TypeError(f"{v!r} is not an integer ({vt})")
            r = int(v)
        elif isinstance(v, str):
            r = int(v.strip())
        else:
            raise TypeError(f"cannot convert {type(v).__name__} to {vt}")
        if not lo <= r <= hi:
            raise TypeError(f"{r} out of range for {vt}")
        return r

    return coerce


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        return float(v.strip())
    raise TypeError(f"cannot convert {type(v).__name__} to a float")


_CONTAINERS = (list, tuple, dict, set, frozenset)


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return str(v)
    if isinstance(v, _CONTAINERS):
        raise TypeError(f"a {type(v).__name__} is not a single string: declare the point as an array "
                        "(e.g. String[]) or a Structure")
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _to_text(what: str) -> Coercer:
    """NodeId, QualifiedName, ...: already their standard text form (the source's job); only checked."""

    def coerce(v: Any) -> str:
        if isinstance(v, str):
            return str(v)
        raise TypeError(f"a {what} is expected as its text form, got {type(v).__name__}")

    return coerce


def _to_guid(v: Any) -> str:
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, str):
        return str(uuid.UUID(v.strip()))
    raise TypeError(f"cannot convert {type(v).__name__} to a Guid")


def _to_bytes(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    if isinstance(v, str):  # JSON sources send binary as base64
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a string for xs:base64Binary must be base64") from None
    raise TypeError(f"cannot convert {type(v).__name__} to xs:base64Binary")


def _to_datetime(v: Any) -> str:
    """xs:dateTime values travel as ISO 8601 strings with an explicit UTC offset."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, str):
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return _to_datetime(dt)
    raise TypeError(f"cannot convert {type(v).__name__} to xs:dateTime")


# xs:duration (XML Schema 1.1): what IDTA 02066 uses for every time process variable
_XS_DURATION = re.compile(r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def seconds_to_duration(seconds: float) -> str:
    """Seconds as an xs:duration in hours, minutes and seconds (``PT7H30M``, ``PT0S``, ``-PT1.5S``)."""
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds!r} is not a duration")
    sign = "-" if seconds < 0 else ""
    ms = round(abs(seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    text = (f"{h}H" if h else "") + (f"{m}M" if m else "")
    if frac:
        text += f"{s}.{frac:03d}".rstrip("0") + "S"
    elif s or not text:
        text += f"{s}S"
    return f"{sign}PT{text}"


def _to_duration(v: Any) -> str:
    """xs:duration values travel as their lexical form; a number is taken as seconds."""
    if isinstance(v, bool):
        raise TypeError("cannot convert bool to xs:duration")
    if isinstance(v, int | float):
        return seconds_to_duration(float(v))
    if isinstance(v, str):
        text = v.strip()
        if not _XS_DURATION.fullmatch(text):
            raise ValueError(f"{v!r} is not an xs:duration such as PT1H30M")
        return text
    raise TypeError(f"cannot convert {type(v).__name__} to xs:duration")


def _scalar_coercer(scalar: str) -> Coercer:
    if scalar in INT_RANGES:
        lo, hi = INT_RANGES[scalar]
        return _int_coercer(lo, hi, scalar)
    if scalar == "StatusCode":
        return _int_coercer(0, 2**32 - 1, "a StatusCode")
    if scalar in FLOAT_TYPES:
        return _to_float
    if scalar == "xs:boolean":
        return _to_bool
    if scalar == "xs:dateTime":
        return _to_datetime
    if scalar == "xs:duration":
        return _to_duration
    if scalar == "xs:base64Binary":
        return _to_bytes
    if scalar == "Guid":
        return _to_guid
    if scalar in ("NodeId", "ExpandedNodeId", "QualifiedName", "XmlElement"):
        return _to_text(scalar)
    return _to_str


# ------------------------------------------------------------------------------------ JSON (containers)


def _json_leaf(c: Coercer) -> Coercer:
    """A scalar coercer whose result is its ValueOnly JSON value (for list items and structure fields)."""

    def coerce(v: Any) -> Any:
        if v is None:
            return None
        r = c(v)
        if isinstance(r, float) and not math.isfinite(r):
            return "NaN" if math.isnan(r) else ("INF" if r > 0 else "-INF")
        if isinstance(r, bytes):
            return base64.b64encode(r).decode("ascii")
        return r

    return coerce


def _array_coercer(item: Coercer, rank: int) -> Coercer:
    def coerce(v: Any) -> list[Any]:
        if not isinstance(v, list | tuple):
            dims = f"{rank} dimension{'s' if rank > 1 else ''}"
            raise TypeError(f"a {type(v).__name__} is not an array ({dims} expected)")
        return [None if x is None else item(x) for x in v]

    return coerce


_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


def _language(tag: Any) -> str:
    """A BCP 47 tag for an OPC UA locale: empty or unusable -> DEFAULT_LANGUAGE; en_US -> en-US."""
    if not isinstance(tag, str):
        raise TypeError(f"a language must be a string, got {type(tag).__name__}")
    t = tag.strip().replace("_", "-")
    return t if _LANGUAGE.fullmatch(t) else DEFAULT_LANGUAGE


def _to_mlp(v: Any) -> list[dict[str, str]] | None:
    """A LocalizedText as the MLP ValueOnly form ``[{"en": "text"}]`` (None: no text)."""
    if v is None:
        return None
    if isinstance(v, str):
        text = str(v)
        return [{_language(getattr(v, "locale", None) or ""): text}] if text else None
    if isinstance(v, dict):
        pairs = list(v.items())
    elif isinstance(v, list | tuple):
        pairs = []
        for item in v:
            if not isinstance(item, dict) or len(item) != 1:
                raise TypeError(f"a LocalizedText list holds {{language: text}} objects, got {item!r}")
            pairs += item.items()
    else:
        raise TypeError(f"cannot convert {type(v).__name__} to a LocalizedText")
    out: dict[str, str] = {}
    for lang, text in pairs:
        if not isinstance(text, str):
            raise TypeError(f"the text of a LocalizedText must be a string, got {type(text).__name__}")
        if text:
            out.setdefault(_language(lang), text)
    return [{lang: text} for lang, text in out.items()] or None


# ------------------------------------------------------------------------------------------ structures


class StructureValue(dict[str, Any]):
    """A structure's ValueOnly value (idShort -> JSON value) and what each field is.

    `types` is shared by every value of one structure type, so the live model sees at a glance
    (``is``) whether a value has the shape its collection already has.
    """

    __slots__ = ("types",)

    def __init__(self, items: Mapping[str, Any], types: Mapping[str, PointType]) -> None:
        super().__init__(items)
        self.types = types


_ID_SHORT_BAD = re.compile(r"[^A-Za-z0-9_]+")


def id_short_of(name: str, taken: set[str]) -> str:
    """A valid, unused idShort for a field name: other characters become '_', a name not starting
    with a letter gets an 'F' in front, a clash gets '_2', '_3' ...; the result is added to `taken`."""
    s = _ID_SHORT_BAD.sub("_", name.strip())[:120] or "Field"
    if not s[0].isalpha() or not s.isascii():
        s = "F" + s
    candidate, n = s, 2
    while candidate.lower() in taken:  # idShorts are unique case-insensitively (AASd-022)
        candidate, n = f"{s}_{n}", n + 1
    taken.add(candidate.lower())
    return candidate


class _Schema:
    """How the fields of one structure type are renamed and coerced."""

    __slots__ = ("fields", "types")

    def __init__(self, field_types: Mapping[str, PointType]) -> None:
        taken: set[str] = set()
        self.fields: list[tuple[str, str, Coercer]] = []
        types: dict[str, PointType] = {}
        for name, t in field_types.items():
            id_short = id_short_of(name, taken)
            types[id_short] = t
            self.fields.append((name, id_short, _coercer(t)))
        self.types = types

    def apply(self, v: Mapping[str, Any]) -> StructureValue:
        out = {}
        for name, id_short, coerce in self.fields:
            x = v.get(name)
            out[id_short] = None if x is None else coerce(x)
        return StructureValue(out, self.types)


_SCHEMAS: dict[tuple[tuple[str, str], ...], _Schema] = {}
_SCHEMAS_MAX = 1024


def _schema(key: tuple[tuple[str, str], ...]) -> _Schema:
    schema = _SCHEMAS.get(key)
    if schema is None:
        if len(_SCHEMAS) >= _SCHEMAS_MAX:
            _SCHEMAS.clear()
        schema = _SCHEMAS[key] = _Schema({name: parse_point_type(t) for name, t in key})
    return schema


_XS_TO_OPCUA = {v: k for k, v in OPCUA_BUILT_INS.items()} | {"xs:integer": "Int64", "xs:nonNegativeInteger": "UInt64"}


def _infer(v: Any) -> str:
    """The type of a value that came without one (JSON from an MQTT sensor, a dict from anywhere)."""
    if v is None or isinstance(v, str):
        return "xs:string"
    if isinstance(v, bool):
        return "xs:boolean"
    if isinstance(v, int):
        return "xs:long" if -(2**63) <= v < 2**63 else "xs:integer" if 0 <= v < 2**64 else "xs:string"
    if isinstance(v, float):
        return "xs:double"
    if isinstance(v, bytes | bytearray):
        return "xs:base64Binary"
    if isinstance(v, datetime):
        return "xs:dateTime"
    if isinstance(v, dict):
        return "Structure"
    if isinstance(v, list | tuple):
        kinds = {_infer(x) for x in v if x is not None}
        if kinds <= {"xs:long", "xs:double"} and len(kinds) == 2:
            kinds = {"xs:double"}
        item = kinds.pop() if len(kinds) == 1 else "xs:string" if not kinds else "Variant"
        return item + "[]"
    raise TypeError(f"cannot map a {type(v).__name__} to an AAS element")


def _to_structure(v: Any) -> StructureValue:
    if isinstance(v, StructureValue):
        return v
    if not isinstance(v, dict):
        raise TypeError(f"a {type(v).__name__} is not a structure")
    field_types = getattr(v, "field_types", None)
    if field_types is not None:
        key = tuple(field_types.items())
    else:
        key = tuple((str(k), _infer(x)) for k, x in v.items())
    return _schema(key).apply(v)


def _to_variant(v: Any) -> StructureValue:
    """A Variant as the collection ``{"Type": built-in type name, "Value": value}``."""
    if isinstance(v, StructureValue) or getattr(v, "field_types", None) is not None:
        return _to_structure(v)  # already {"Type", "Value"}, from a source that knows the variant's type
    t = parse_point_type(_infer(v))
    name = _XS_TO_OPCUA.get(t.scalar, t.scalar) + "[]" * t.rank
    return _schema((("Type", "xs:string"), ("Value", t.name))).apply({"Type": name, "Value": v})


# ------------------------------------------------------------------------------------------ dispatch


def _coercer(t: PointType) -> Coercer:
    if t.rank:
        return _array_coercer(_coercer(t.item()), t.rank)
    if t.element == "Property":
        return _json_leaf(_scalar_coercer(t.scalar))
    if t.element == "MultiLanguageProperty":
        return _to_mlp
    if t.scalar == "Variant":
        return _to_variant
    return _to_structure


def coercer(value_type: str) -> Coercer:
    """The function that turns a raw reading into the value of type `value_type` (see module docstring).

    It raises TypeError or ValueError when the reading does not fit; the
    caller marks that sample BadTypeMismatch instead of storing it.
    """
    t = parse_point_type(value_type)
    if t.is_scalar_property:
        return _scalar_coercer(t.scalar)
    return _coercer(t)
