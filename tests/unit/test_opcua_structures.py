"""StructureDecoder's loading and decoding logic, against a scripted address space (pure logic).

The real-server path (the type-zoo simulator, a subprocess) is covered in tests/e2e/test_type_mapping.py
and tests/integration/test_structures.py; here the odd cases servers produce: a vendor alias of a
built-in, a subtype whose definition leaves out its supertype's fields, no DefaultEncodingId,
optional fields, unions, matrices in fields, a type without definition, a body that does not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from asyncua import Client, ua
from asyncua.ua import ua_binary

from aas_models.datatypes import coercer
from connectors.opcua.structures import StructureDecoder
from connectors.opcua.values import LocalizedStr, OpaqueStructure, StructValue, plain_value, to_sample, variant_value

P = ua_binary.Primitives
NS = 3


# asyncua annotates identifiers, bodies and codes with its own int/bytes subclasses; plain values are what it
# takes at run time, so the helpers below build its objects from plain values in one place each


def nid(i: int, ns: int = NS) -> ua.NodeId:
    return ua.NodeId(i, ns)  # type: ignore[arg-type]  # asyncua int subtype


def extension(type_id: int, encoded: bytes) -> ua.ExtensionObject:
    """An ExtensionObject of our test namespace's encoding `type_id` with `encoded` as its body."""
    return ua.ExtensionObject(nid(type_id), encoded)  # type: ignore[arg-type]  # asyncua bytes subtype


def decoder(server: FakeServer) -> StructureDecoder:
    return StructureDecoder(cast(Client, server), 1000, "test")  # FakeServer answers what the decoder calls


def sfield(name: str, dtype: ua.NodeId, rank: int = -1, optional: bool = False) -> ua.StructureField:
    f = ua.StructureField()
    f.Name, f.DataType, f.ValueRank, f.IsOptional = name, dtype, rank, optional
    return f


def sdef(fields: list[ua.StructureField], encoding: ua.NodeId | None,
         kind: ua.StructureType = ua.StructureType.Structure, base: ua.NodeId | None = None) -> ua.StructureDefinition:
    d = ua.StructureDefinition()
    d.Fields, d.StructureType = fields, kind
    d.DefaultEncodingId = encoding or ua.NodeId()
    d.BaseDataType = base or nid(ua.ObjectIds.Structure, 0)
    return d


def ref(target: ua.NodeId, name: str = "") -> ua.ReferenceDescription:
    r = ua.ReferenceDescription()
    r.NodeId, r.BrowseName = target, ua.QualifiedName(name, 0)
    return r


@dataclass
class FakeServer:
    """Answers Read (DataTypeDefinition, BrowseName) and Browse (HasSubtype inverse, HasEncoding) from tables."""

    definitions: dict[ua.NodeId, Any] = field(default_factory=dict)
    supertypes: dict[ua.NodeId, ua.NodeId] = field(default_factory=dict)
    encodings: dict[ua.NodeId, ua.NodeId] = field(default_factory=dict)  # data type -> Default Binary
    calls: int = 0

    @property
    def uaclient(self) -> FakeServer:
        return self

    async def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        self.calls += 1
        out = []
        for rv in params.NodesToRead:
            if rv.AttributeId == ua.AttributeIds.BrowseName:
                out.append(ua.DataValue(ua.Variant(ua.QualifiedName(f"T{rv.NodeId.Identifier}", NS))))
            elif rv.NodeId in self.definitions:
                out.append(ua.DataValue(ua.Variant(self.definitions[rv.NodeId], ua.VariantType.ExtensionObject)))
            else:
                out.append(ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadAttributeIdInvalid)))  # type: ignore[arg-type]  # asyncua int subtype
        return out

    async def browse(self, params: ua.BrowseParameters) -> list[ua.BrowseResult]:
        self.calls += 1
        out = []
        for d in params.NodesToBrowse:
            r = ua.BrowseResult()
            r.StatusCode = ua.StatusCode()
            if d.ReferenceTypeId == nid(ua.ObjectIds.HasSubtype, 0):
                parent = self.supertypes.get(d.NodeId)
                r.References = [ref(parent)] if parent is not None else []
            elif d.BrowseDirection == ua.BrowseDirection.Forward:
                enc = self.encodings.get(d.NodeId)
                r.References = [ref(enc, "Default Binary")] if enc is not None else []
            else:  # encoding -> its data type
                r.References = [ref(t) for t, e in self.encodings.items() if e == d.NodeId]
            out.append(r)
        return out


def zoo() -> FakeServer:
    s = FakeServer()
    dbl, i32, txt = nid(11, 0), nid(6, 0), nid(21, 0)
    s.definitions[nid(10)] = sdef([sfield("X", dbl), sfield("Y", dbl)], nid(110))  # Point
    s.supertypes[nid(20)] = nid(12, 0)  # SerialText: a vendor alias of String
    s.definitions[nid(30)] = sdef([sfield("Name", nid(20)), sfield("At", nid(10)), sfield("Path", nid(10), rank=1),
                                   sfield("Grid", i32, rank=2), sfield("Label", txt),
                                   sfield("Took", nid(290, 0))], nid(130))  # Job (290: Duration -> Double)
    s.definitions[nid(40)] = sdef([sfield("Speed", dbl), sfield("Torque", dbl, optional=True),
                                   sfield("Alarm", nid(12, 0), optional=True)], nid(140),
                                  ua.StructureType.StructureWithOptionalFields)
    s.definitions[nid(50)] = sdef([sfield("Length", dbl), sfield("Count", nid(7, 0))], nid(150),
                                  ua.StructureType.Union)
    # a subtype whose definition lists only its own field (some servers do): Point's fields go first
    s.definitions[nid(60)] = sdef([sfield("Z", dbl)], nid(160), base=nid(10))
    s.definitions[nid(70)] = sdef([sfield("Value", i32)], None)  # no DefaultEncodingId: found by browsing
    s.encodings[nid(70)] = nid(170)
    s.encodings[nid(10)] = nid(110)
    return s


def body(*parts: bytes) -> bytes:
    return b"".join(parts)


def point(x: float, y: float) -> bytes:
    return P.Double.pack(x) + P.Double.pack(y)


async def test_load_reads_only_what_is_needed_in_few_requests() -> None:
    server = zoo()
    dec = decoder(server)
    assert await dec.load([nid(30), nid(40), nid(50), nid(60), nid(70)]) == {}
    # round 1: 5 definitions; round 2: Point and the alias; 1 browse for the alias, 1 for the missing encoding
    assert server.calls <= 5
    assert set(dec.by_encoding) == {nid(110), nid(130), nid(140), nid(150), nid(160), nid(170)}


async def test_decoding_follows_the_definitions() -> None:
    dec = decoder(zoo())
    await dec.load([nid(30), nid(40), nid(50), nid(60), nid(70)])
    job = body(P.String.pack("J-1"), point(1.0, 2.0), P.Int32.pack(2), point(3.0, 4.0), point(5.0, 6.0),
               P.Int32.pack(2), P.Int32.pack(2), P.Int32.pack(3), *(P.Int32.pack(i) for i in range(6)),
               ua_binary.pack_uatype(ua.VariantType.LocalizedText, ua.LocalizedText("Fertig", "de")),
               P.Double.pack(1.5))
    v = dec.decode(extension(130, job))
    assert isinstance(v, StructValue) and not isinstance(v, OpaqueStructure)
    assert v == {"Name": "J-1", "At": {"X": 1.0, "Y": 2.0}, "Path": [{"X": 3.0, "Y": 4.0}, {"X": 5.0, "Y": 6.0}],
                 "Grid": [[0, 1, 2], [3, 4, 5]], "Label": "Fertig", "Took": 1.5}
    assert v.field_types == {"Name": "String", "At": "Structure", "Path": "Structure[]", "Grid": "Int32[][]",
                             "Label": "LocalizedText", "Took": "Double"}
    assert isinstance(v["Label"], LocalizedStr) and v["Label"].locale == "de"
    aas = coercer("Structure")(v)  # and what the AAS side makes of it
    assert aas == {"Name": "J-1", "At": {"X": 1.0, "Y": 2.0}, "Path": [{"X": 3.0, "Y": 4.0}, {"X": 5.0, "Y": 6.0}],
                   "Grid": [[0, 1, 2], [3, 4, 5]], "Label": [{"de": "Fertig"}], "Took": 1.5}

    spindle = dec.decode(extension(140, P.UInt32.pack(0b10) + P.Double.pack(8000.0)
                                            + P.String.pack("Overload")))
    assert spindle == {"Speed": 8000.0, "Torque": None, "Alarm": "Overload"}
    assert dec.decode(extension(150, P.UInt32.pack(2) + P.UInt32.pack(7))) == {"Count": 7}
    assert dec.decode(extension(150, P.UInt32.pack(0))) == {}
    sub = dec.decode(extension(160, point(1.0, 2.0) + P.Double.pack(3.0)))
    assert sub == {"X": 1.0, "Y": 2.0, "Z": 3.0}
    assert dec.decode(extension(170, P.Int32.pack(-4))) == {"Value": -4}


async def test_what_cannot_be_decoded_is_kept_whole() -> None:
    server = zoo()
    server.definitions[nid(80)] = sdef([sfield("Odd", nid(81))], nid(180))  # 81: neither definition nor supertype
    dec = decoder(server)
    failed = await dec.load([nid(30), nid(80)])
    assert set(failed) == {nid(80)} and "supertype" in failed[nid(80)]
    truncated = dec.decode(extension(130, P.String.pack("J-1") + b"\x00"))
    unknown = dec.decode(extension(999, b"\x01\x02"))
    for v in (truncated, unknown):
        assert isinstance(v, OpaqueStructure) and isinstance(v["body"], bytes)
    assert unknown == {"typeId": "ns=3;i=999", "body": b"\x01\x02"} and nid(999) in dec.misses
    assert coercer("Structure")(unknown) == {"typeId": "ns=3;i=999", "body": "AQI="}
    # a sample of it is stored, marked Uncertain, not dropped and not turned into text
    s = to_sample("A/OperationalData/S", ua.DataValue(ua.Variant(extension(999, b"\x01"))), 1,
                  lambda var: plain_value(var.Value, dec.decode))
    assert s.status == 0x40000000 and s.value == {"typeId": "ns=3;i=999", "body": b"\x01"}


async def test_unknown_encodings_seen_in_values_are_looked_up_later() -> None:
    server = zoo()
    dec = decoder(server)
    assert isinstance(dec.decode(extension(110, point(1.0, 2.0))), OpaqueStructure)
    await dec.resolve_misses()
    assert dec.decode(extension(110, point(1.0, 2.0))) == {"X": 1.0, "Y": 2.0}
    calls = server.calls
    await dec.resolve_misses()  # nothing left to look up: no requests
    assert server.calls == calls


@pytest.mark.parametrize(("value", "expected"), [
    (ua.Variant(1.5, ua.VariantType.Double), {"Type": "Double", "Value": 1.5}),
    (ua.Variant([[1, 2], [3, 4]], ua.VariantType.Int16), {"Type": "Int16[][]", "Value": [[1, 2], [3, 4]]}),
    (ua.Variant(None, ua.VariantType.Null), {"Type": "Null", "Value": None}),
    (ua.Variant(ua.LocalizedText("x", "en"), ua.VariantType.LocalizedText), {"Type": "LocalizedText",
                                                                              "Value": [{"en": "x"}]}),
])
def test_variants_carry_their_type(value: ua.Variant, expected: dict[str, Any]) -> None:
    v = variant_value(value)
    assert coercer("Variant")(v) == expected


def test_plain_values_never_repr() -> None:
    assert plain_value(ua.NodeId("Line.Speed", 2)) == "ns=2;s=Line.Speed"  # type: ignore[arg-type]  # asyncua int/str subtypes
    assert plain_value(ua.ExpandedNodeId(5, 0, NamespaceUri="urn:a;b")) == "nsu=urn:a%3Bb;i=5"  # type: ignore[arg-type]  # asyncua int/str subtypes
    assert plain_value(ua.QualifiedName("Tool", 2)) == "2:Tool"
    assert plain_value(ua.XmlElement("<a/>")) == "<a/>"  # type: ignore[arg-type]  # asyncua str subtype
    assert plain_value(ua.StatusCode(0x80340000)) == 0x80340000  # type: ignore[arg-type]  # asyncua int subtype
    assert plain_value(ua.LocalizedText(None, None)) is None
    rng = plain_value(ua.Range(1.0, 2.0))  # a standard structure asyncua decodes itself
    assert rng == {"Low": 1.0, "High": 2.0} and rng.field_types == {"Low": "Double", "High": "Double"}
    eu = plain_value(ua.EUInformation(NamespaceUri="u", UnitId=1, DisplayName=ua.LocalizedText("m")))
    assert eu.field_types["DisplayName"] == "LocalizedText"
    with pytest.raises(TypeError):
        plain_value(object())
    s = to_sample("A/OperationalData/X", ua.DataValue(ua.Variant(1.0)), 1, lambda var: plain_value(object()))
    assert s.status == 0x80390000 and s.value is None  # BadDataEncodingUnsupported, visible
