"""The type vocabulary of a point: what the config's `type` may say and which AAS element it becomes.

A point's type is written as an AAS valueType (``xs:double``) or an OPC UA built-in type name
(``Double``, ``LocalizedText``, ``NodeId``, ...; case-insensitive), with ``[]`` once per array
dimension (``Double[]``, ``Int32[][]``, ``LocalizedText[]``, ``Structure[]``). Every name has one
canonical spelling, which is what the rest of the gateway (pipeline, historian series, forwarders,
write path) sees: xs names where the AAS valueType says everything (``Int16`` -> ``xs:short``,
``ByteString`` -> ``xs:base64Binary``), the OPC UA name where the OPC UA type matters beyond its AAS
form (``Guid``, ``NodeId``, ``StatusCode``, ``LocalizedText``, ``Structure`` ...).

What each becomes (the README has the full table):

- a scalar with an xs valueType -> ``Property`` (``Guid``, ``NodeId``, ``ExpandedNodeId``,
  ``QualifiedName``, ``XmlElement`` as ``xs:string`` in their standard text forms; ``StatusCode`` as
  ``xs:unsignedInt``, the numeric code, so no information is lost and Good stays 0);
- ``LocalizedText`` -> ``MultiLanguageProperty``;
- ``Structure`` (alias ``ExtensionObject``), ``DataValue``, ``DiagnosticInfo`` and ``Variant``
  (alias ``BaseDataType``) -> ``SubmodelElementCollection``, filled from the values (a Variant's
  collection holds ``Type``, the built-in type name, and ``Value``);
- an array of any of these -> ``SubmodelElementList`` of them; a two-dimensional array is a list of
  lists, and so on.

This module is pure vocabulary (no BaSyx, no coercion) so that the config, the pipeline, the model
builder and the historian all parse a type the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

ElementKind = Literal["Property", "MultiLanguageProperty", "SubmodelElementCollection"]

INT_RANGES: dict[str, tuple[int, int]] = {
    "xs:byte": (-(2**7), 2**7 - 1),
    "xs:short": (-(2**15), 2**15 - 1),
    "xs:int": (-(2**31), 2**31 - 1),
    "xs:long": (-(2**63), 2**63 - 1),
    "xs:unsignedByte": (0, 2**8 - 1),
    "xs:unsignedShort": (0, 2**16 - 1),
    "xs:unsignedInt": (0, 2**32 - 1),
    "xs:unsignedLong": (0, 2**64 - 1),
    "xs:integer": (-(2**63), 2**64 - 1),
    "xs:nonNegativeInteger": (0, 2**64 - 1),
}
FLOAT_TYPES = frozenset({"xs:double", "xs:float", "xs:decimal"})
_OTHER_XS = frozenset({"xs:boolean", "xs:string", "xs:dateTime", "xs:anyURI", "xs:base64Binary", "xs:duration"})

VALUE_TYPES: frozenset[str] = frozenset(INT_RANGES) | FLOAT_TYPES | _OTHER_XS
NUMERIC_TYPES: frozenset[str] = frozenset(INT_RANGES) | FLOAT_TYPES

# canonical scalar name -> (valueType of its Property, element kind); the xs names map to themselves
_OPCUA_SCALARS: dict[str, tuple[str | None, ElementKind]] = {
    "Guid": ("xs:string", "Property"),
    "NodeId": ("xs:string", "Property"),
    "ExpandedNodeId": ("xs:string", "Property"),
    "QualifiedName": ("xs:string", "Property"),
    "XmlElement": ("xs:string", "Property"),
    "StatusCode": ("xs:unsignedInt", "Property"),
    "LocalizedText": (None, "MultiLanguageProperty"),
    "Structure": (None, "SubmodelElementCollection"),
    "DataValue": (None, "SubmodelElementCollection"),
    "DiagnosticInfo": (None, "SubmodelElementCollection"),
    "Variant": (None, "SubmodelElementCollection"),
}
SCALARS: dict[str, tuple[str | None, ElementKind]] = {
    **{vt: (vt, "Property") for vt in VALUE_TYPES}, **_OPCUA_SCALARS,
}

# OPC UA built-in type names (Part 6, 5.1.2) and a few short forms -> canonical scalar name
OPCUA_BUILT_INS: dict[str, str] = {
    "Boolean": "xs:boolean",
    "SByte": "xs:byte",
    "Byte": "xs:unsignedByte",
    "Int16": "xs:short",
    "UInt16": "xs:unsignedShort",
    "Int32": "xs:int",
    "UInt32": "xs:unsignedInt",
    "Int64": "xs:long",
    "UInt64": "xs:unsignedLong",
    "Float": "xs:float",
    "Double": "xs:double",
    "String": "xs:string",
    "DateTime": "xs:dateTime",
    "Guid": "Guid",
    "ByteString": "xs:base64Binary",
    "XmlElement": "XmlElement",
    "NodeId": "NodeId",
    "ExpandedNodeId": "ExpandedNodeId",
    "StatusCode": "StatusCode",
    "QualifiedName": "QualifiedName",
    "LocalizedText": "LocalizedText",
    "ExtensionObject": "Structure",
    "DataValue": "DataValue",
    "Variant": "Variant",
    "DiagnosticInfo": "DiagnosticInfo",
}
_ALIASES: dict[str, str] = {
    **{k.lower(): v for k, v in OPCUA_BUILT_INS.items()},
    **{vt.lower(): vt for vt in VALUE_TYPES},
    **{k.lower(): k for k in _OPCUA_SCALARS},
    "basedatatype": "Variant",
    "bool": "xs:boolean",
    "int": "xs:int",
    "long": "xs:long",
    "short": "xs:short",
}


@dataclass(frozen=True, slots=True)
class PointType:
    """A parsed point type: the canonical scalar, the number of array dimensions, and its AAS form."""

    scalar: str  # canonical scalar name, e.g. "xs:double", "LocalizedText", "Structure"
    rank: int = 0  # array dimensions; 0 = scalar

    @property
    def name(self) -> str:
        """The canonical text, e.g. ``xs:double``, ``Guid``, ``xs:int[][]``."""
        return self.scalar + "[]" * self.rank

    @property
    def value_type(self) -> str | None:
        """The xs valueType of the Property (or list items) holding it; None for MLP and collections."""
        return SCALARS[self.scalar][0]

    @property
    def element(self) -> ElementKind:
        """The element one scalar of this type becomes (an array is a SubmodelElementList of them)."""
        return SCALARS[self.scalar][1]

    @property
    def is_scalar_property(self) -> bool:
        return self.rank == 0 and self.element == "Property"

    @property
    def is_json(self) -> bool:
        """Its values are JSON arrays or objects (stored and forwarded as JSON text)."""
        return not self.is_scalar_property

    def item(self) -> PointType:
        """The type of one item of an array type."""
        if self.rank == 0:
            raise ValueError(f"{self.name} is not an array type")
        return PointType(self.scalar, self.rank - 1)


def _choices() -> str:
    return (f"an AAS valueType ({', '.join(sorted(VALUE_TYPES))}) or an OPC UA built-in type name "
            f"({', '.join(OPCUA_BUILT_INS)}, BaseDataType, Structure), case-insensitive, with [] per array "
            "dimension (e.g. Double[], LocalizedText[], Structure[])")


@functools.lru_cache(maxsize=512)
def parse_point_type(text: str) -> PointType:
    """Parse a configured type name; ValueError naming the choices if it is unknown."""
    base = text.strip()
    rank = 0
    while base.endswith("[]"):
        base = base[:-2].rstrip()
        rank += 1
    scalar = base if base in SCALARS else _ALIASES.get(base.lower())
    if scalar is None or "[" in base or "]" in base:
        raise ValueError(f"unknown data type {text!r}; use {_choices()}")
    return PointType(scalar, rank)


def canonical_value_type(name: str) -> str:
    """The canonical spelling of a configured type name; raises ValueError if unknown."""
    return parse_point_type(name).name
