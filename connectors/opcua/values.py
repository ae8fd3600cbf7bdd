"""OPC UA DataValues -> Samples, with values reduced to plain Python types.

Sinks (SQLite, JSON, line protocol) understand bool/int/float/str/bytes/datetime and lists and
dicts of them; everything richer that OPC UA can carry is reduced here, once, without losing what
the AAS model needs and never to Python repr text:

- Guid -> its text; NodeId, ExpandedNodeId, QualifiedName -> their standard strings (``ns=2;s=X``,
  ``nsu=urn:x;i=5``, ``2:Name``); XmlElement -> the XML text; StatusCode -> its integer code;
  enumerations -> their integer value;
- LocalizedText -> `LocalizedStr`: the text as a ``str`` that also carries its ``locale`` (a point
  typed xs:string takes just the text; a LocalizedText point keeps the locale);
- structures -> `StructValue`: a dict of the fields (definition order) whose ``field_types`` names
  each field's OPC UA type (``{"Speed": "Double", "Pos": "Double[]", "Tool": "Structure"}``), so the
  AAS side builds the right elements; decoded by asyncua (standard types) or by the session's
  `StructureDecoder` (the server's DataTypeDefinitions); an undecodable one -> `OpaqueStructure`,
  ``{"typeId", "body"}``, and the sample turns Uncertain;
- DataValue, DiagnosticInfo -> StructValues of their fields; a Variant (inside arrays or
  structures, or the value of a point typed Variant/BaseDataType) -> ``{"Type": "Double", "Value":
  ...}``, its built-in type name (``[]`` per dimension) and value;
- arrays -> lists (nested for more dimensions).

Anything else has no plain form: the sample becomes BadDataEncodingUnsupported rather than text.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from asyncua import ua
from asyncua.ua.ua_binary import get_safe_type_hints

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.sample import FLAG_SERVER_TS_INVALID, FLAG_SOURCE_TS_INVALID, Sample, timestamp_ns

log = logging.getLogger(__name__)

_PLAIN = (bool, int, float, str, bytes, datetime)
UNCERTAIN = 0x40000000
BAD_DATA_ENCODING_UNSUPPORTED = 0x80390000

DecodeExtension = Callable[[Any], Any]
Convert = Callable[[ua.Variant], Any]


class LocalizedStr(str):
    """The text of an OPC UA LocalizedText, with its locale ("" when the server gives none)."""

    locale: str

    def __new__(cls, text: str, locale: str) -> LocalizedStr:
        s = super().__new__(cls, text)
        s.locale = locale
        return s


class StructValue(dict[str, Any]):
    """A decoded structure: field name -> plain value, and ``field_types``: field name -> OPC UA type."""

    __slots__ = ("field_types",)

    def __init__(self, values: dict[str, Any], field_types: dict[str, str]) -> None:
        super().__init__(values)
        self.field_types = field_types


class OpaqueStructure(StructValue):
    """An ExtensionObject without a usable definition, kept losslessly: ``{"typeId": ..., "body": bytes}``."""

    __slots__ = ()
    FIELD_TYPES: ClassVar[dict[str, str]] = {"typeId": "NodeId", "body": "ByteString"}


_DATA_VALUE_TYPES = {"Value": "Variant", "StatusCode": "StatusCode", "SourceTimestamp": "DateTime",
                     "SourcePicoseconds": "UInt16", "ServerTimestamp": "DateTime", "ServerPicoseconds": "UInt16"}
_DIAGNOSTIC_INFO_TYPES = {"SymbolicId": "Int32", "NamespaceURI": "Int32", "Locale": "Int32", "LocalizedText": "Int32",
                          "AdditionalInfo": "String", "InnerStatusCode": "StatusCode",
                          "InnerDiagnosticInfo": "DiagnosticInfo"}
_VARIANT_TYPES: dict[str, dict[str, str]] = {}  # value type text -> the field types of {"Type", "Value"}


def _variant_types(type_text: str) -> dict[str, str]:
    t = _VARIANT_TYPES.get(type_text)
    if t is None:
        t = _VARIANT_TYPES[type_text] = {"Type": "String", "Value": type_text}
    return t


def variant_value(var: ua.Variant | None, decode: DecodeExtension | None = None) -> StructValue:
    """A Variant as ``{"Type": built-in type name ([] per dimension), "Value": plain value}``."""
    if var is None or var.VariantType == ua.VariantType.Null:
        return StructValue({"Type": "Null", "Value": None}, _variant_types("String"))
    vt = var.VariantType
    rank = len(var.Dimensions) if var.Dimensions else (1 if var.is_array else 0)
    name = vt.name + "[]" * rank
    return StructValue({"Type": name, "Value": plain_value(var.Value, decode)}, _variant_types(name))


def expanded_node_id_text(e: ua.ExpandedNodeId) -> str:
    """Part 6, 5.3.1.11: ``svr=1;nsu=urn:x;i=5`` (asyncua puts ``nsu`` last, which other stacks do not read)."""
    head = f"svr={e.ServerIndex};" if e.ServerIndex else ""
    if not e.NamespaceUri:
        return head + ua.NodeId.to_string(e)
    uri = e.NamespaceUri.replace("%", "%25").replace(";", "%3B")
    return f"{head}nsu={uri};{ua.NodeId(e.Identifier, 0, e.NodeIdType).to_string()}"  # type: ignore[arg-type]  # asyncua int subtype


def plain_value(v: Any, decode: DecodeExtension | None = None) -> Any:
    """The plain form of any value asyncua decodes (see the module docstring); TypeError if it has none.

    `decode` turns a raw ExtensionObject into a StructValue (the session's StructureDecoder); without
    one, raw ExtensionObjects become OpaqueStructures.
    """
    if v is None or isinstance(v, _PLAIN):
        return v
    if isinstance(v, list | tuple):
        return [plain_value(x, decode) for x in v]
    if isinstance(v, ua.LocalizedText):
        if v.Text is None and v.Locale is None:
            return None
        return LocalizedStr(v.Text or "", v.Locale or "")
    if isinstance(v, ua.ExpandedNodeId):
        return expanded_node_id_text(v)
    if isinstance(v, ua.QualifiedName | ua.NodeId):
        return v.to_string()
    if isinstance(v, ua.StatusCode):
        return v.value
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, ua.XmlElement):
        return v.Value
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, ua.Variant):
        return variant_value(v, decode)
    if isinstance(v, ua.ExtensionObject):
        if decode is not None:
            return decode(v)
        return OpaqueStructure({"typeId": v.TypeId.to_string(), "body": bytes(v.Body or b"")},
                               OpaqueStructure.FIELD_TYPES)
    if isinstance(v, ua.DataValue):
        return StructValue({"Value": variant_value(v.Value, decode) if v.Value is not None else None,
                            "StatusCode": v.StatusCode.value if v.StatusCode is not None else None,
                            "SourceTimestamp": v.SourceTimestamp, "SourcePicoseconds": v.SourcePicoseconds,
                            "ServerTimestamp": v.ServerTimestamp, "ServerPicoseconds": v.ServerPicoseconds},
                           _DATA_VALUE_TYPES)
    if isinstance(v, ua.DiagnosticInfo):
        return StructValue({k: plain_value(getattr(v, k), decode) for k in _DIAGNOSTIC_INFO_TYPES},
                           _DIAGNOSTIC_INFO_TYPES)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        names, field_types = _dataclass_fields(type(v))
        return StructValue({n: plain_value(getattr(v, n), decode) for n in names}, field_types)
    raise TypeError(f"no plain form for an OPC UA {type(v).__name__}")


@functools.lru_cache(maxsize=256)
def _dataclass_fields(cls: type) -> tuple[tuple[str, ...], dict[str, str]]:
    """Field names and OPC UA types of a structure class asyncua decoded (a standard type such as Range)."""
    hints = get_safe_type_hints(cls, {"ua": ua})
    names: list[str] = []
    field_types: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        if f.name == "Encoding" and hint in (ua.Byte, ua.UInt32):
            continue  # asyncua's own bit mask of optional fields, not a field of the structure
        names.append(f.name)
        field_types[f.name] = _hint_type(hint)
    return tuple(names), field_types


def _hint_type(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args: Sequence[Any] = [a for a in typing.get_args(hint) if a is not type(None)]
        return _hint_type(args[0]) if len(args) == 1 else "Variant"
    if origin is typing.Annotated:
        return _hint_type(typing.get_args(hint)[0])
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return _hint_type(args[0] if args else Any) + "[]"
    if not isinstance(hint, type):
        return "Variant"
    if dataclasses.is_dataclass(hint) and hint not in (ua.LocalizedText, ua.QualifiedName, ua.XmlElement,
                                                       ua.DataValue, ua.DiagnosticInfo, ua.Variant):
        return "Structure"
    if issubclass(hint, enum.Enum):
        return "Int32"
    if issubclass(hint, ua.NodeId):
        return "ExpandedNodeId" if issubclass(hint, ua.ExpandedNodeId) else "NodeId"
    if issubclass(hint, uuid.UUID):
        return "Guid"
    name = hint.__name__
    if name in ua.VariantType.__members__:
        return name
    return {bool: "Boolean", int: "Int64", float: "Double", str: "String", bytes: "ByteString",
            datetime: "DateTime"}.get(hint, "Variant")


def converter(point_type: str | None, decode: DecodeExtension | None) -> Convert | None:
    """How a point's Variant becomes its sample value; None means plain_value(variant.Value), the fast path."""
    if point_type == "Variant":  # the value's own type is part of the value
        return functools.partial(variant_value, decode=decode)
    if decode is None:
        return None

    def convert(var: ua.Variant) -> Any:
        return plain_value(var.Value, decode)

    return convert


def to_sample(point: str, dv: ua.DataValue, received_ns: int, convert: Convert | None = None) -> Sample:
    """One DataValue as a Sample; a bad status carries no value (OPC UA Part 4, 7.7.1).

    `convert` turns the Variant into the sample value (`converter`); an undecodable structure makes
    the sample Uncertain, a value with no plain form makes it BadDataEncodingUnsupported. A timestamp
    that is no time (OPC UA's null DateTime, before 1970, far future: see connectors.sample.plausible_ns)
    becomes absent and the sample is flagged; the value is kept.
    """
    sc = dv.StatusCode
    status = 0 if sc is None else sc.value
    value = None
    if not (status & 0x80000000) and dv.Value is not None:
        try:
            value = plain_value(dv.Value.Value) if convert is None else convert(dv.Value)
        except TypeError as e:
            log.debug("point %s: %s", point, e)
            value, status = None, BAD_DATA_ENCODING_UNSUPPORTED
        if value.__class__ is OpaqueStructure and not status & 0xC0000000:
            status = UNCERTAIN  # kept whole, but nobody could read it
    flags = 0
    src_dt, srv_dt = dv.SourceTimestamp, dv.ServerTimestamp
    src = timestamp_ns(src_dt, received_ns)
    if src is None and src_dt is not None:
        flags = FLAG_SOURCE_TS_INVALID
    srv = timestamp_ns(srv_dt, received_ns)
    if srv is None and srv_dt is not None:
        flags |= FLAG_SERVER_TS_INVALID
    return Sample(point, value, src, srv, received_ns, status, flags)
