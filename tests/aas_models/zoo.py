"""A reading of every point type, as a source delivers it, with the element and ValueOnly form it becomes.

Shared by the type-mapping tests (tests/aas_models/test_point_types.py) and the `$value` fast-path test
(tests/api/test_fastpath.py), so both run on the same values of every type: each OPC UA built-in type, each
xs valueType, arrays (also two-dimensional), LocalizedText and structures.
"""

from __future__ import annotations

import uuid
from typing import Any

from basyx.aas import model

from aas_models.datatypes import DEFAULT_LANGUAGE


class Described(dict[str, Any]):
    """A structure as a source that knows its definition hands it over (a dict with field_types)."""

    field_types: dict[str, str]


def described(fields: dict[str, tuple[str, Any]]) -> Described:
    d = Described({k: v for k, (_, v) in fields.items()})
    d.field_types = {k: t for k, (t, _) in fields.items()}
    return d


class Localized(str):
    """An OPC UA LocalizedText as the OPC UA connector hands it over: text with a `locale`."""

    locale: str

    def __new__(cls, text: str, locale: str) -> Localized:
        s = super().__new__(cls, text)
        s.locale = locale
        return s


# config type, raw reading (as a source delivers it), element class, valueType, ValueOnly form
ZOO: list[tuple[str, Any, type, str | None, Any]] = [
    ("Boolean", True, model.Property, "xs:boolean", True),
    ("SByte", -5, model.Property, "xs:byte", -5),
    ("Byte", 200, model.Property, "xs:unsignedByte", 200),
    ("Int16", -300, model.Property, "xs:short", -300),
    ("UInt16", 60000, model.Property, "xs:unsignedShort", 60000),
    ("Int32", -70000, model.Property, "xs:int", -70000),
    ("UInt32", 4_000_000_000, model.Property, "xs:unsignedInt", 4_000_000_000),
    ("Int64", -(2**40), model.Property, "xs:long", -(2**40)),
    ("UInt64", 2**64 - 1, model.Property, "xs:unsignedLong", 2**64 - 1),
    ("Float", 1.5, model.Property, "xs:float", 1.5),
    ("Double", 2.25, model.Property, "xs:double", 2.25),
    ("String", "Läuft", model.Property, "xs:string", "Läuft"),
    ("DateTime", "2026-05-01T08:00:00.5Z", model.Property, "xs:dateTime", "2026-05-01T08:00:00.500000+00:00"),
    ("Guid", uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63"), model.Property, "xs:string",
     "72962b91-fa75-4ae6-8d28-b404dc7daf63"),
    ("ByteString", b"\x00\x01\xfe", model.Property, "xs:base64Binary", "AAH+"),
    ("XmlElement", "<a b='1'/>", model.Property, "xs:string", "<a b='1'/>"),
    ("NodeId", "ns=2;s=Line.Speed", model.Property, "xs:string", "ns=2;s=Line.Speed"),
    ("ExpandedNodeId", "nsu=urn:x;i=5", model.Property, "xs:string", "nsu=urn:x;i=5"),
    ("StatusCode", 0x80340000, model.Property, "xs:unsignedInt", 0x80340000),
    ("QualifiedName", "2:Name", model.Property, "xs:string", "2:Name"),
    ("LocalizedText", Localized("Bereit", "de-DE"), model.MultiLanguageProperty, None, [{"de-DE": "Bereit"}]),
    ("ExtensionObject", described({"Speed": ("Double", 1.5), "Name": ("String", "T1")}),
     model.SubmodelElementCollection, None, {"Speed": 1.5, "Name": "T1"}),
    ("DataValue", described({"Value": ("Variant", described({"Type": ("String", "Int32"), "Value": ("Int32", 5)})),
                             "StatusCode": ("StatusCode", 0), "SourceTimestamp": ("DateTime", None)}),
     model.SubmodelElementCollection, None, {"Value": {"Type": "Int32", "Value": 5}, "StatusCode": 0}),
    ("Variant", 3.5, model.SubmodelElementCollection, None, {"Type": "Double", "Value": 3.5}),
    ("BaseDataType", [1, 2], model.SubmodelElementCollection, None, {"Type": "Int64[]", "Value": [1, 2]}),
    ("DiagnosticInfo", described({"SymbolicId": ("Int32", 3), "AdditionalInfo": ("String", "details"),
                                  "InnerStatusCode": ("StatusCode", 0x80000000)}),
     model.SubmodelElementCollection, None, {"SymbolicId": 3, "AdditionalInfo": "details",
                                             "InnerStatusCode": 0x80000000}),
    # arrays
    ("Double[]", [1.0, float("nan"), float("inf")], model.SubmodelElementList, None, [1.0, "NaN", "INF"]),
    ("Int32[][]", [[1, 2, 3], [4, 5, 6]], model.SubmodelElementList, None, [[1, 2, 3], [4, 5, 6]]),
    ("ByteString[]", [b"\x01", b""], model.SubmodelElementList, None, ["AQ==", ""]),
    ("LocalizedText[]", [Localized("a", "en"), Localized("b", "")], model.SubmodelElementList, None,
     [[{"en": "a"}], [{DEFAULT_LANGUAGE: "b"}]]),
    ("Structure[]", [described({"X": ("Int16", 1)}), described({"X": ("Int16", 2)})], model.SubmodelElementList,
     None, [{"X": 1}, {"X": 2}]),
    ("Guid[]", [uuid.UUID(int=1)], model.SubmodelElementList, None, ["00000000-0000-0000-0000-000000000001"]),
]
# the xs valueTypes no OPC UA built-in type maps to, configured by their xs names
ZOO += [
    ("xs:integer", -(2**62), model.Property, "xs:integer", -(2**62)),
    ("xs:nonNegativeInteger", 2**63, model.Property, "xs:nonNegativeInteger", 2**63),
    ("xs:decimal", 12.5, model.Property, "xs:decimal", 12.5),
    ("xs:anyURI", "https://example.com/a?b=1", model.Property, "xs:anyURI", "https://example.com/a?b=1"),
    ("xs:duration", 90.5, model.Property, "xs:duration", "PT1M30.5S"),  # seconds become an ISO 8601 duration
]


def id_short_for(type_name: str) -> str:
    """An idShort naming a point of that type (``Double[]`` -> ``DoubleArr``, ``xs:anyURI`` -> ``xs_anyURI``)."""
    return type_name.replace("[]", "Arr").replace(":", "_")
