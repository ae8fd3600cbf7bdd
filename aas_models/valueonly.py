"""ValueOnly (``$value``) serialisation and deserialisation (IDTA-01001 ValueOnly encoding).

BaSyx has no ValueOnly support, and Normal JSON carries every Property value
as a string; dashboards and MES clients want native JSON. This module maps
each element kind to its ValueOnly form and back.

Decisions:

- Numbers: integer xs types become JSON integers (exact, any size);
  xs:double/xs:float become JSON numbers; xs:decimal becomes a JSON integer
  when integral, else a JSON number (it is read back exactly from a decimal
  string too). NaN and infinities, which JSON has no number for, are
  written as the xs:double lexical forms ``"NaN"``, ``"INF"``, ``"-INF"`` and
  accepted back in that form only for xs:double/xs:float.
- Reading is strict about JSON types: a string for an xs:int or a number for an
  xs:string is a ValueError, as is an integer out of the range of its type.
- Elements without a value (Property/MLP/Range/ReferenceElement ... whose
  value is unset) and Operations/Capabilities are omitted from Submodel, SMC,
  Entity and annotation objects, as the encoding says. Inside an SML an unset
  item is written ``null`` instead so that indexes keep their meaning; a list
  whose items are all Operations/Capabilities is omitted.
- Reading back is per Property (`property_value_from_json`, what PATCH ``$value``
  needs); a whole-container reader lives with the tests, which use it to prove
  that every form written here reads back to the same value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import math
import re
from typing import Any

from basyx.aas import model

# BaSyx's own name tables of the JSON format; the SDK exposes them under no public name
from aas_models.basyx_adapters import generic

dt = model.datatypes
_OMIT = object()  # "no ValueOnly form": dropped from the parent
_FLOAT32_MAX = 3.4028234663852886e38
_NON_FINITE = {"NaN": math.nan, "INF": math.inf, "-INF": -math.inf}

# --------------------------------------------------------------------------------- property values


def property_value_to_json(value: Any, value_type: type) -> Any:
    """The native JSON value of an xs value (None stays None)."""
    if value is None:
        return None
    if value_type is dt.Boolean:
        return bool(value)
    if value_type is dt.Decimal:
        d = decimal.Decimal(value)
        if d == d.to_integral_value():
            return int(d)
        return float(d)
    if issubclass(value_type, float):
        f = float(value)
        if math.isfinite(f):
            return f
        return "NaN" if math.isnan(f) else ("INF" if f > 0 else "-INF")
    if issubclass(value_type, int):
        return int(value)
    if issubclass(value_type, str):
        return str(value)
    return dt.xsd_repr(value)


def _tname(value_type: type) -> str:
    return dt.XSD_TYPE_NAMES.get(value_type, value_type.__name__)


def property_value_from_json(j: Any, value_type: type) -> Any:
    """The xs value for a native JSON value; ValueError if it does not fit."""
    if j is None:
        return None
    name = _tname(value_type)
    if value_type is dt.Boolean:
        if not isinstance(j, bool):
            raise ValueError(f"{name} needs a JSON boolean, got {type(j).__name__} {j!r}")
        return j
    if value_type is dt.Decimal:
        if isinstance(j, bool) or not isinstance(j, int | float | str):
            raise ValueError(f"{name} needs a JSON number, got {type(j).__name__} {j!r}")
        try:
            d = decimal.Decimal(repr(j) if isinstance(j, float) else j)
        except (decimal.InvalidOperation, ValueError):
            raise ValueError(f"{j!r} is not an {name}") from None
        if not d.is_finite():
            raise ValueError(f"{j!r} is not an {name} (no NaN or infinity)")
        return d
    if issubclass(value_type, float):
        if isinstance(j, str) and j in _NON_FINITE:
            return value_type(_NON_FINITE[j])
        if isinstance(j, bool) or not isinstance(j, int | float):
            raise ValueError(f'{name} needs a JSON number (or "NaN", "INF", "-INF"), got {type(j).__name__} {j!r}')
        try:
            f = float(j)
        except OverflowError:
            raise ValueError(f"{j!r} is out of range for {name}") from None
        if value_type is dt.Float and math.isfinite(f) and abs(f) > _FLOAT32_MAX:
            raise ValueError(f"{j!r} is out of range for {name}")
        return value_type(f)
    if issubclass(value_type, int):
        if isinstance(j, bool) or not isinstance(j, int):
            raise ValueError(f"{name} needs a JSON integer, got {type(j).__name__} {j!r}")
        try:
            return value_type(j)
        except ValueError:
            raise ValueError(f"{j} is out of range for {name}") from None
    if not isinstance(j, str):
        raise ValueError(f"{name} needs a JSON string, got {type(j).__name__} {j!r}")
    if issubclass(value_type, str):
        try:
            return value_type(j)
        except ValueError as e:
            raise ValueError(f"{j!r} is not an {name}: {e}") from None
    if value_type is dt.DateTime:
        return _parse_datetime(j, name)
    try:
        return dt.from_xsd(j, value_type)
    except (ValueError, TypeError, binascii.Error) as e:
        raise ValueError(f"{j!r} is not an {name}: {e}") from None


# lexical forms of the xs types whose native JSON is not a string (XSD 1.1 Part 2, 3.3)
_LEXICAL_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_LEXICAL_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN")
_LEXICAL_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_LEXICAL = 100  # characters: more than any xs number needs (and int() refuses > 4300 digits)


def property_value_from_lexical(text: str, value_type: type) -> Any:
    """The xs value for `text` read as a lexical form of `value_type` (`"85"` for xs:double, `"true"`).

    Some clients send every ValueOnly value as a JSON string, as Normal JSON writes Property values;
    reading them is tolerated where the string is a valid lexical form (leading and trailing spaces
    collapse, as XSD says for these types). For string-valued types this is the JSON reading.
    """
    name = _tname(value_type)
    s = text.strip(" \t\n\r")
    if value_type is dt.Boolean:
        if s not in ("true", "false", "1", "0"):
            raise ValueError(f"{text[:_MAX_LEXICAL]!r} is not an {name} (true, false, 1 or 0)")
        return s in ("true", "1")
    numeric = value_type is dt.Decimal or issubclass(value_type, float | int)
    if not numeric:
        return property_value_from_json(text, value_type)
    pattern = (_LEXICAL_DECIMAL if value_type is dt.Decimal else
               _LEXICAL_DOUBLE if issubclass(value_type, float) else _LEXICAL_INTEGER)
    if len(s) > _MAX_LEXICAL or not pattern.fullmatch(s):
        raise ValueError(f"{text[:_MAX_LEXICAL]!r} is not a lexical form of {name}")
    if value_type is dt.Decimal:
        return property_value_from_json(s, value_type)
    if issubclass(value_type, float):
        if s.lstrip("+-") in ("INF", "NaN"):
            return property_value_from_json("-INF" if s == "-INF" else s.lstrip("+"), value_type)
        f = float(s)
        if not math.isfinite(f):
            raise ValueError(f"{s!r} is out of range for {name}")
        return property_value_from_json(f, value_type)
    return property_value_from_json(int(s), value_type)


_XS_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def _parse_datetime(j: str, name: str) -> datetime.datetime:
    # BaSyx's from_xsd goes through float seconds and loses microseconds; fromisoformat is exact
    if not _XS_DATETIME.fullmatch(j):
        raise ValueError(f"{j!r} is not an {name} (YYYY-MM-DDThh:mm:ss[.f][Z|+hh:mm])")
    try:
        return datetime.datetime.fromisoformat(j)
    except ValueError:
        pass
    try:  # forms fromisoformat does not know, e.g. 24:00:00 or years beyond 9999
        return dt.from_xsd(j, dt.DateTime)  # type: ignore[return-value]
    except (ValueError, TypeError) as e:
        raise ValueError(f"{j!r} is not an {name}: {e}") from None


# ---------------------------------------------------------------------------------------- references


def reference_to_json(ref: model.Reference) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": generic.REFERENCE_TYPES[type(ref)],
        "keys": [{"type": generic.KEY_TYPES[k.type], "value": k.value} for k in ref.key],
    }
    if ref.referred_semantic_id is not None:
        out["referredSemanticId"] = reference_to_json(ref.referred_semantic_id)
    return out


def _specific_asset_id_to_json(s: model.SpecificAssetId) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "value": s.value}
    if s.external_subject_id is not None:
        out["externalSubjectId"] = reference_to_json(s.external_subject_id)
    if s.semantic_id is not None:
        out["semanticId"] = reference_to_json(s.semantic_id)
    return out


# ------------------------------------------------------------------------------------- serialisation


def to_value(obj: model.Submodel | model.SubmodelElement, level: str = "deep", extent: str = "withBlobValue") -> Any:
    """ValueOnly form of a Submodel or element.

    `level="core"` gives the direct children only, with collections as
    ``{}`` and lists as ``[]``. `extent="withoutBlobValue"` leaves out Blob
    contents. Raises ValueError for elements that have no ValueOnly form
    (Operation, Capability).
    """
    if level not in ("deep", "core"):
        raise ValueError(f"level must be 'deep' or 'core', not {level!r}")
    v = _value(obj, 1 if level == "core" else -1, extent == "withBlobValue")
    if v is _OMIT:
        if isinstance(obj, model.Operation | model.Capability):
            raise ValueError(f"{type(obj).__name__} {obj.id_short!r} has no ValueOnly form")
        return None
    return v


def _object(children: Any, depth: int, blob: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in children:
        v = _value(child, depth, blob)
        if v is not _OMIT:
            out[child.id_short] = v
    return out


def _value(obj: Any, depth: int, blob: bool) -> Any:
    """depth: -1 unlimited; 0 = 'show containers empty' (level=core below the top)."""
    if isinstance(obj, model.Property):
        return _OMIT if obj.value is None else property_value_to_json(obj.value, obj.value_type)
    if isinstance(obj, model.Submodel | model.SubmodelElementCollection):
        if depth == 0:
            return {}
        children = obj.submodel_element if isinstance(obj, model.Submodel) else obj.value
        return _object(children, depth - 1, blob)
    if isinstance(obj, model.SubmodelElementList):
        if depth == 0:
            return []
        items = [_value(e, depth - 1, blob) for e in obj.value if not isinstance(e, model.Operation | model.Capability)]
        if obj.value and not items:
            return _OMIT
        return [None if v is _OMIT else v for v in items]
    if isinstance(obj, model.MultiLanguageProperty):
        if not obj.value:
            return _OMIT
        return [{lang: text} for lang, text in obj.value.items()]
    if isinstance(obj, model.Range):
        r: dict[str, Any] = {}
        if obj.min is not None:
            r["min"] = property_value_to_json(obj.min, obj.value_type)
        if obj.max is not None:
            r["max"] = property_value_to_json(obj.max, obj.value_type)
        return r or _OMIT
    if isinstance(obj, model.Blob):
        b: dict[str, Any] = {}
        if obj.content_type is not None:
            b["contentType"] = obj.content_type
        if blob and obj.value is not None:
            b["value"] = base64.b64encode(bytes(obj.value)).decode("ascii")
        return b or _OMIT
    if isinstance(obj, model.File):
        f: dict[str, Any] = {}
        if obj.content_type is not None:
            f["contentType"] = obj.content_type
        if obj.value is not None:
            f["value"] = obj.value
        return f or _OMIT
    if isinstance(obj, model.ReferenceElement):
        return _OMIT if obj.value is None else reference_to_json(obj.value)
    if isinstance(obj, model.RelationshipElement):  # also AnnotatedRelationshipElement
        rel: dict[str, Any] = {}
        if obj.first is not None:
            rel["first"] = reference_to_json(obj.first)
        if obj.second is not None:
            rel["second"] = reference_to_json(obj.second)
        if isinstance(obj, model.AnnotatedRelationshipElement):
            ann = [{a.id_short: v} for a in obj.annotation if (v := _value(a, depth - 1, blob)) is not _OMIT]
            if ann:
                rel["annotations"] = ann
        return rel or _OMIT
    if isinstance(obj, model.Entity):
        ent: dict[str, Any] = {"statements": {} if depth == 0 else _object(obj.statement, depth - 1, blob)}
        if obj.entity_type is not None:
            ent["entityType"] = generic.ENTITY_TYPES[obj.entity_type]
        if obj.global_asset_id is not None:
            ent["globalAssetId"] = obj.global_asset_id
        if obj.specific_asset_id:
            ent["specificAssetIds"] = [_specific_asset_id_to_json(s) for s in obj.specific_asset_id]
        return ent
    if isinstance(obj, model.BasicEventElement):
        return {"observed": reference_to_json(obj.observed)}
    # Operation, Capability, anything without a value
    return _OMIT
