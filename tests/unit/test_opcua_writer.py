"""The Variant a write sends is decided by the point's valueType, never by the Python value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asyncua import ua

from connectors.base import WriteError, WriteValueError
from connectors.opcua.writer import to_variant, write_value


@pytest.mark.parametrize(("value", "value_type", "expected"), [
    (1200, "xs:double", ua.Variant(1200.0, ua.VariantType.Double)),
    (1.5, "xs:float", ua.Variant(1.5, ua.VariantType.Float)),
    (7, "xs:int", ua.Variant(7, ua.VariantType.Int32)),
    (7, "xs:unsignedShort", ua.Variant(7, ua.VariantType.UInt16)),
    (-3, "xs:byte", ua.Variant(-3, ua.VariantType.SByte)),
    (Decimal("2"), "xs:long", ua.Variant(2, ua.VariantType.Int64)),
    (Decimal("2.5"), "xs:decimal", ua.Variant(2.5, ua.VariantType.Double)),
    (True, "xs:boolean", ua.Variant(True, ua.VariantType.Boolean)),
    ("O1001", "xs:string", ua.Variant("O1001", ua.VariantType.String)),
    (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "xs:dateTime", ua.Variant(datetime(2026, 3, 1, 9, 0),
                                                                      ua.VariantType.DateTime)),
])
def test_variant_types(value: object, value_type: str, expected: ua.Variant) -> None:
    v = to_variant(value, value_type)
    assert (v.VariantType, v.Value) == (expected.VariantType, expected.Value)


@pytest.mark.parametrize(("value", "value_type"), [
    (True, "xs:int"), (1.5, "xs:int"), ("1", "xs:double"), (1, "xs:boolean"), ("2026-01-01", "xs:dateTime"),
    (1, "xs:gYear"),
])
def test_values_that_do_not_fit_are_type_mismatches(value: object, value_type: str) -> None:
    with pytest.raises(WriteError) as e:
        to_variant(value, value_type)
    assert e.value.status == "BadTypeMismatch"


async def test_no_session_is_not_connected() -> None:
    with pytest.raises(WriteError) as e:
        await write_value(None, ua.NodeId(1, 2), 1.0, "xs:double", 1.0)  # type: ignore[arg-type]  # asyncua int subtype
    assert e.value.status == "BadNotConnected"


@pytest.mark.parametrize(("value", "value_type", "vt", "expected"), [
    ("ns=2;s=Line.Speed", "NodeId", ua.VariantType.NodeId, ua.NodeId("Line.Speed", 2)),  # type: ignore[arg-type]  # asyncua int/str subtypes
    ("nsu=urn:x;i=5", "ExpandedNodeId", ua.VariantType.ExpandedNodeId,
     ua.ExpandedNodeId(5, 0, NamespaceUri="urn:x")),  # type: ignore[arg-type]  # asyncua int/str subtypes
    ("2:Tool", "QualifiedName", ua.VariantType.QualifiedName, ua.QualifiedName("Tool", 2)),
    ("72962b91-fa75-4ae6-8d28-b404dc7daf63", "Guid", ua.VariantType.Guid,
     uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63")),
    ("<a/>", "XmlElement", ua.VariantType.XmlElement, ua.XmlElement("<a/>")),  # type: ignore[arg-type]  # asyncua str subtype
    (0x80340000, "StatusCode", ua.VariantType.StatusCode, ua.StatusCode(0x80340000)),  # type: ignore[arg-type]  # asyncua int subtype
    (b"\x00\x01", "xs:base64Binary", ua.VariantType.ByteString, b"\x00\x01"),
])
def test_opcua_text_types_are_written_in_their_own_type(value: object, value_type: str, vt: ua.VariantType,
                                                        expected: object) -> None:
    v = to_variant(value, value_type)
    assert (v.VariantType, v.Value) == (vt, expected)


@pytest.mark.parametrize(("value", "value_type"), [
    ("not a node id", "NodeId"), ("zz", "Guid"), (-1, "StatusCode"), ("x", "xs:base64Binary"),
    ([1.0], "xs:double[]"), ({"a": 1}, "Structure"), ("x", "LocalizedText"),
])
def test_values_that_cannot_be_sent_are_refused_before_sending(value: object, value_type: str) -> None:
    with pytest.raises(WriteValueError) as e:
        to_variant(value, value_type)
    assert e.value.status == "BadTypeMismatch"
