# mypy: disable-error-code="arg-type, assignment, list-item"
"""The DataValue codec against hand-encoded OPC UA Part 6 bytes, for all 64 encoding masks, on every path.

The bytes here are built field by field from the specification (Part 6, 5.2.2.17: mask, Value,
StatusCode, SourceTimestamp, SourcePicoseconds, ServerTimestamp, ServerPicoseconds), not by any OPC UA
library, so they stand in for a server built on another stack (node-opcua sends picoseconds always).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary

from connectors.opcua import codec

MASKS = range(64)

# distinct values per field, so a field read from another field's bytes cannot pass
VALUE = 21.5
STATUS = 0x40920000  # UncertainSubNormal (a code with bits set in both halves)
SOURCE_FT = 133_500_000_000_000_120  # 100-ns ticks since 1601; multiples of 10 survive microseconds exactly
SERVER_FT = 133_500_000_009_999_990
SOURCE_PICO = 0x1234
SERVER_PICO = 0x0BCD


def _filetime_to_dt(ft: int) -> datetime:
    return datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ft // 10)


def hand_encoded(mask: int) -> bytes:
    out = bytes([mask])
    if mask & 0x01:
        out += bytes([11]) + struct.pack("<d", VALUE)  # Variant: built-in type 11 (Double), scalar
    if mask & 0x02:
        out += struct.pack("<I", STATUS)
    if mask & 0x04:
        out += struct.pack("<q", SOURCE_FT)
    if mask & 0x10:
        out += struct.pack("<H", SOURCE_PICO)
    if mask & 0x08:
        out += struct.pack("<q", SERVER_FT)
    if mask & 0x20:
        out += struct.pack("<H", SERVER_PICO)
    return out


def expected(mask: int) -> ua.DataValue:
    kw: dict[str, object] = {}
    if mask & 0x01:
        kw["Value"] = ua.Variant(VALUE, ua.VariantType.Double)
    if mask & 0x02:
        kw["StatusCode"] = ua.StatusCode(STATUS)
    if mask & 0x04:
        kw["SourceTimestamp"] = _filetime_to_dt(SOURCE_FT)
    if mask & 0x10:
        kw["SourcePicoseconds"] = SOURCE_PICO
    if mask & 0x08:
        kw["ServerTimestamp"] = _filetime_to_dt(SERVER_FT)
    if mask & 0x20:
        kw["ServerPicoseconds"] = SERVER_PICO
    return ua.DataValue(**kw)


def assert_same(dv: ua.DataValue, mask: int) -> None:
    want = expected(mask)
    if mask & 0x01:
        assert dv.Value == want.Value
    else:
        assert dv.Value is not None and dv.Value.Value is None  # asyncua's null Variant
    assert dv.StatusCode == (ua.StatusCode(STATUS) if mask & 0x02 else ua.StatusCode(0))
    assert dv.SourceTimestamp == want.SourceTimestamp
    assert dv.SourcePicoseconds == want.SourcePicoseconds
    assert dv.ServerTimestamp == want.ServerTimestamp
    assert dv.ServerPicoseconds == want.ServerPicoseconds


TAIL = b"\xde\xad\xbe\xef"  # bytes after the DataValue: the decoder must stop exactly before them


@pytest.mark.parametrize("mask", MASKS)
def test_plain_datavalue_decodes_every_mask(mask: int) -> None:
    buf = Buffer(hand_encoded(mask) + TAIL)
    assert_same(ua_binary.struct_from_binary(ua.DataValue, buf), mask)
    assert buf.read(4) == TAIL
    assert_same(ua_binary.from_binary(ua.DataValue, Buffer(hand_encoded(mask))), mask)


@pytest.mark.parametrize("mask", MASKS)
def test_datavalue_inside_a_variant(mask: int) -> None:
    buf = Buffer(bytes([23]) + hand_encoded(mask) + TAIL)  # Variant of built-in type 23 (DataValue)
    var = ua_binary.variant_from_binary(buf)
    assert var.VariantType == ua.VariantType.DataValue
    assert_same(var.Value, mask)
    assert buf.read(4) == TAIL
    arr = Buffer(bytes([23 | 0x80]) + struct.pack("<i", 2) + hand_encoded(mask) + hand_encoded(mask) + TAIL)
    values = ua_binary.variant_from_binary(arr).Value
    assert len(values) == 2
    for v in values:
        assert_same(v, mask)
    assert arr.read(4) == TAIL


@pytest.mark.parametrize("mask", MASKS)
def test_subscription_notification(mask: int) -> None:
    """A DataChangeNotification as a PublishResponse carries it: an ExtensionObject with two items."""
    body = (struct.pack("<i", 2) + struct.pack("<I", 7) + hand_encoded(mask) + struct.pack("<I", 8)
            + hand_encoded(mask) + struct.pack("<i", 0))  # MonitoredItems[2], DiagnosticInfos[0]
    type_id = ua.NodeId(ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary)
    eo = ua_binary.nodeid_to_binary(type_id) + b"\x01" + struct.pack("<i", len(body)) + body
    buf = Buffer(eo + TAIL)
    notif = ua_binary.extensionobject_from_binary(buf)
    assert isinstance(notif, ua.DataChangeNotification)
    assert [m.ClientHandle for m in notif.MonitoredItems] == [7, 8]
    for m in notif.MonitoredItems:
        assert_same(m.Value, mask)
    assert buf.read(4) == TAIL


@pytest.mark.parametrize("mask", MASKS)
def test_read_response(mask: int) -> None:
    """Read (and polling, which is Read) answers with a list of DataValues between header and diagnostics."""
    head = ua.ReadResponse()
    prefix = ua_binary.nodeid_to_binary(head.TypeId) + ua_binary.struct_to_binary(head.ResponseHeader)
    data = prefix + struct.pack("<i", 3) + hand_encoded(mask) * 3 + struct.pack("<i", 0)
    resp = ua_binary.struct_from_binary(ua.ReadResponse, Buffer(data))
    assert len(resp.Results) == 3
    for dv in resp.Results:
        assert_same(dv, mask)


@pytest.mark.parametrize("mask", MASKS)
def test_history_read_data(mask: int) -> None:
    """HistoryRead returns HistoryData (a list of DataValues) as an ExtensionObject."""
    body = struct.pack("<i", 2) + hand_encoded(mask) + hand_encoded(mask)
    type_id = ua.NodeId(ua.ObjectIds.HistoryData_Encoding_DefaultBinary)
    eo = ua_binary.nodeid_to_binary(type_id) + b"\x01" + struct.pack("<i", len(body)) + body
    hd = ua_binary.extensionobject_from_binary(Buffer(eo))
    assert isinstance(hd, ua.HistoryData) and len(hd.DataValues) == 2
    for dv in hd.DataValues:
        assert_same(dv, mask)


@pytest.mark.parametrize("mask", MASKS)
def test_encoder_writes_part6_order(mask: int) -> None:
    dv = expected(mask)
    if not mask & 0x02:
        dv.StatusCode = None  # asyncua's presence rule: a field is sent when it is not None
    if not mask & 0x01:
        dv.Value = None
    assert ua_binary.struct_to_binary(dv) == hand_encoded(mask)
    assert ua_binary.to_binary(ua.DataValue, dv) == hand_encoded(mask)
    assert ua_binary.variant_to_binary(ua.Variant(dv, ua.VariantType.DataValue)) == bytes([23]) + hand_encoded(mask)
    # inside a service message too (the server side of our simulators)
    notif = ua.MonitoredItemNotification(ClientHandle=5, Value=dv)
    assert ua_binary.struct_to_binary(notif) == struct.pack("<I", 5) + hand_encoded(mask)


@pytest.mark.parametrize("mask", MASKS)
def test_round_trip(mask: int) -> None:
    dv = expected(mask)
    back = ua_binary.struct_from_binary(ua.DataValue, Buffer(ua_binary.struct_to_binary(dv)))
    assert back.Value == dv.Value and back.StatusCode == dv.StatusCode
    assert (back.SourceTimestamp, back.SourcePicoseconds, back.ServerTimestamp, back.ServerPicoseconds) == (
        dv.SourceTimestamp, dv.SourcePicoseconds, dv.ServerTimestamp, dv.ServerPicoseconds)


def test_install_is_idempotent_and_leaves_other_types_to_asyncua() -> None:
    before = ua_binary._create_dataclass_deserializer, ua_binary.create_dataclass_serializer
    codec.install()
    codec.install()
    assert (ua_binary._create_dataclass_deserializer, ua_binary.create_dataclass_serializer) == before
    assert ua_binary._create_dataclass_deserializer(ua.DataValue) is codec.datavalue_from_binary
    assert ua_binary.create_dataclass_serializer(ua.DataValue) is codec.datavalue_to_binary
    stock_de, _ = codec.stock_codec()
    assert stock_de is not ua_binary._create_dataclass_deserializer
    # any other structure still goes through asyncua's generic codec, unchanged
    rv = ua.ReadValueId(NodeId=ua.NodeId(42, 3), AttributeId=13)
    assert ua_binary.struct_from_binary(ua.ReadValueId, Buffer(ua_binary.struct_to_binary(rv))) == rv


def test_stock_asyncua_still_decodes_out_of_order() -> None:
    """Watches asyncua: when this fails, asyncua reads Part 6 order itself; remove connectors/opcua/codec.py.

    (Then delete this test; every other test here keeps checking the codec asyncua provides.)
    """
    stock_de, stock_se = codec.stock_codec()
    mask = 0x3F
    dv = stock_de(ua.DataValue)(Buffer(hand_encoded(mask)))
    assert dv.ServerTimestamp != _filetime_to_dt(SERVER_FT), (
        "asyncua now decodes DataValue in OPC UA Part 6 order: remove the override in connectors/opcua/codec.py")
    assert stock_se(ua.DataValue)(expected(mask)) != hand_encoded(mask)


# --- every kind of Value through the decoder's fast path (scalars) and its general path (the rest) -----------

def _variants() -> list[tuple[str, ua.Variant]]:
    from simulators.typezoo import ARRAYS, SCALARS

    out = [(f"scalar {name}", ua.Variant(v, vt)) for name, (vt, v) in SCALARS.items()]
    out += [(f"array {name}", ua.Variant(v, vt, is_array=True)) for name, (vt, v, rank) in ARRAYS.items() if rank == 1]
    out += [
        ("matrix", ua.Variant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], ua.VariantType.Double, [2, 3])),
        ("null variant", ua.Variant()),
        ("null string", ua.Variant(None, ua.VariantType.String)),
        ("null bytestring", ua.Variant(None, ua.VariantType.ByteString)),
        ("empty array", ua.Variant([], ua.VariantType.Double, is_array=True)),
        ("variant in variant", ua.Variant(ua.Variant(7, ua.VariantType.Int32), ua.VariantType.Variant)),
        ("extension object", ua.Variant(ua.Range(Low=1.0, High=2.0), ua.VariantType.ExtensionObject)),
    ]
    return out


@pytest.mark.parametrize(("name", "var"), _variants(), ids=[n for n, _ in _variants()])
def test_every_kind_of_value_decodes_as_asyncua_decodes_the_variant(name: str, var: ua.Variant) -> None:
    raw = ua_binary.variant_to_binary(var)
    want = ua_binary.variant_from_binary(Buffer(raw))  # asyncua's Variant decoder
    mask = 0x3F
    buf = Buffer(bytes([mask]) + raw + hand_encoded(mask)[1 + 9:] + TAIL)  # the fields after the Value
    dv = ua_binary.struct_from_binary(ua.DataValue, buf)
    assert buf.read(4) == TAIL
    got = dv.Value
    assert type(got) is ua.Variant
    assert (got.Value, got.VariantType, got.Dimensions, got.is_array) == (
        want.Value, want.VariantType, want.Dimensions, want.is_array)
    assert dv.StatusCode == ua.StatusCode(STATUS) and dv.ServerPicoseconds == SERVER_PICO


def test_decoded_objects_equal_constructed_ones_and_share_nothing_mutable() -> None:
    """Objects built without their constructors compare, print and encode like constructed ones."""
    for mask in (0x01, 0x3D, 0x3F):
        a, b = (ua_binary.struct_from_binary(ua.DataValue, Buffer(hand_encoded(mask))) for _ in range(2))
        want = expected(mask)
        if not mask & 0x02:
            want.StatusCode = ua.StatusCode(0)
        assert a == want and repr(a) == repr(want)
        assert ua_binary.struct_to_binary(a) == ua_binary.struct_to_binary(want)
        assert a.StatusCode is not b.StatusCode and a.Value is not b.Value  # mutable: one each
        if mask & 0x04:
            assert a.SourceTimestamp is b.SourceTimestamp  # immutable datetimes may be shared


@pytest.mark.parametrize("ticks", [0, -1, 1, 2**63 - 1, 2650467743999999999, SOURCE_FT])
def test_timestamps_convert_as_asyncua_converts_them(ticks: int) -> None:
    """Null (0), negative and beyond-9999 DateTimes keep asyncua's meaning (1601-01-01, the maximum)."""
    raw = bytes([0x0C]) + struct.pack("<qq", ticks, ticks)
    for _ in range(2):  # converted, then from the cache
        dv = ua_binary.struct_from_binary(ua.DataValue, Buffer(raw))
        assert dv.SourceTimestamp == dv.ServerTimestamp == ua.win_epoch_to_datetime(ticks)
