"""DataValue binary codec in OPC UA Part 6 field order: an override of asyncua's, installed on import.

Why it exists: asyncua (2.1.0, and its master as of 2026-08) derives a structure's binary layout from the
order of its dataclass fields. ``ua.DataValue`` declares SourceTimestamp, ServerTimestamp,
SourcePicoseconds, ServerPicoseconds, because the *encoding-mask bits* follow that order (0x04 SourceTs,
0x08 ServerTs, 0x10 SourcePico, 0x20 ServerPico). The *fields on the wire* do not: OPC UA Part 6, 5.2.2.17
encodes Value, StatusCode, SourceTimestamp, SourcePicoseconds, ServerTimestamp, ServerPicoseconds. Between
two asyncua peers the error cancels out; against any other stack that sends picoseconds (node-opcua does,
always) the ServerTimestamp is read from the wrong bytes (typically 1601-01-01) and every field after it
is shifted. Upstream swapped the two fields on purpose in 2021 (commit a5ac0170, "fix order of DataValue
attributes") to get the mask bits right, which broke the byte order.

What it does: ``install()`` wraps ``ua_binary._create_dataclass_deserializer`` and
``ua_binary.create_dataclass_serializer`` (the two factories every DataValue goes through: service
responses such as Read and HistoryRead, DataChangeNotifications, a DataValue inside a Variant, lists of
them) so that ``ua.DataValue`` gets the hand-written Part 6 codec below and every other type keeps
asyncua's own. The factories are ``functools.cache``d and other cached factories have captured their
results in closures (e.g. the decoder of MonitoredItemNotification holds the DataValue decoder), so every
cache in ``ua_binary`` is cleared after wrapping: nothing built before the override survives. Idempotent.

How to remove it: when asyncua decodes Part 6 order itself, ``tests/unit/test_datavalue_codec.py::
test_stock_asyncua_still_decodes_out_of_order`` fails and says so; then delete this module, its imports in
the package's asyncua modules (``from connectors.opcua import codec as _codec``) and that test (the other tests
in that file then check asyncua's codec).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary

# Part 6, 5.2.2.17: encoding-mask bits
VALUE = 0x01
STATUS_CODE = 0x02
SOURCE_TIMESTAMP = 0x04
SERVER_TIMESTAMP = 0x08
SOURCE_PICOSECONDS = 0x10
SERVER_PICOSECONDS = 0x20

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")

_MARK = "_aas_gateway_part6_datavalue"


def datavalue_from_binary(data: Buffer | IO[bytes]) -> ua.DataValue:
    """Decode one DataValue in Part 6 order (Value, StatusCode, SourceTs, SourcePico, ServerTs, ServerPico).

    The ingest hot path: every value a subscription delivers passes here. Hence the objects are built
    without their constructors (same fields, same values: `_new_datavalue` and `_new_variant`), a scalar
    Variant's type comes from a table instead of an Enum call, the fields after the Value are read with one
    read and one unpack for their mask, and timestamps come from a small cache (a server stamps the values
    of one scan with the same time, so most are repeats; datetimes are immutable, sharing them is safe).
    """
    read = data.read
    mask = read(1)[0]
    dv = _new_datavalue()
    dv.Encoding = 0  # type: ignore[assignment]  # asyncua annotates its int/datetime subclasses (Byte, UInt32, DateTime); plain values are what it holds at run time
    if mask & VALUE:
        enc = read(1)[0]
        scalar = _SCALARS[enc]
        if scalar is not None:
            vtype, unpack = scalar
            value = unpack(data)
            if value is None:  # a null String, ByteString, NodeId ...: the constructor knows what that means
                var = ua.Variant(None, vtype, None, is_array=False)
            else:
                var = _new_variant()
                var.Value = value
                var.VariantType = vtype
                var.Dimensions = None
                var.is_array = False
        else:
            var = _variant_after_encoding(enc, data)
        dv.Value = var
    else:
        dv.Value = ua.Variant()  # asyncua's null Variant, as DataValue() makes it
    tail = _TAILS[mask]
    if tail is None:  # Value alone: Good, no timestamps
        dv.StatusCode = _good()
        dv.SourceTimestamp = dv.ServerTimestamp = dv.SourcePicoseconds = dv.ServerPicoseconds = None
        return dv
    fields = tail.unpack(read(tail.size))
    i = 0
    if mask & STATUS_CODE:
        sc = _new_statuscode()
        sc.value = fields[0]
        dv.StatusCode = sc
        i = 1
    else:
        dv.StatusCode = _good()
    if mask & SOURCE_TIMESTAMP:
        ticks = fields[i]
        dt = _datetimes.get(ticks)
        dv.SourceTimestamp = dt if dt is not None else _datetime(ticks)  # type: ignore[assignment]  # asyncua annotates its int/datetime subclasses (Byte, UInt32, DateTime); plain values are what it holds at run time
        i += 1
    else:
        dv.SourceTimestamp = None
    if mask & SOURCE_PICOSECONDS:
        dv.SourcePicoseconds = fields[i]
        i += 1
    else:
        dv.SourcePicoseconds = None
    if mask & SERVER_TIMESTAMP:
        ticks = fields[i]
        dt = _datetimes.get(ticks)
        dv.ServerTimestamp = dt if dt is not None else _datetime(ticks)  # type: ignore[assignment]  # asyncua annotates its int/datetime subclasses (Byte, UInt32, DateTime); plain values are what it holds at run time
        i += 1
    else:
        dv.ServerTimestamp = None
    dv.ServerPicoseconds = fields[i] if mask & SERVER_PICOSECONDS else None
    return dv


def _variant_after_encoding(enc: int, data: Buffer | IO[bytes]) -> ua.Variant:
    """The rest of a Variant whose encoding byte was read: asyncua's variant_from_binary (2.1.0) after its first read.

    Arrays, matrices, the null Variant and Variants of Variants come here (not the scalar fast path).
    """
    vtype = ua.datatype_to_varianttype(enc & 0b00111111)
    dimensions = None
    array = False
    if enc & 0x80:
        value = ua_binary.unpack_uatype_array(vtype, data)  # type: ignore[arg-type]  # asyncua's own decoder takes these (VariantTypeCustom, list[Any]) at run time
        array = True
    else:
        value = ua_binary.unpack_uatype(vtype, data)  # type: ignore[arg-type]  # asyncua's own decoder takes these (VariantTypeCustom, list[Any]) at run time
    if enc & 0x40:
        dimensions = ua_binary.unpack_uatype_array(ua.VariantType.Int32, data)
        if value is not None:
            value = ua_binary._reshape(value, dimensions)  # type: ignore[arg-type]  # asyncua's own decoder takes these (VariantTypeCustom, list[Any]) at run time
    return ua.Variant(value, vtype, dimensions, is_array=array)  # type: ignore[arg-type]  # asyncua's own decoder takes these (VariantTypeCustom, list[Any]) at run time


def _datetime(ticks: int) -> datetime:
    """asyncua's conversion of a DateTime (100-ns ticks since 1601), kept in `_datetimes`."""
    if len(_datetimes) >= _DATETIMES_MAX:
        _datetimes.clear()
    dt = _datetimes[ticks] = ua.win_epoch_to_datetime(ticks)
    return dt


def _build_scalars() -> list[tuple[ua.VariantType, Callable[[Any], Any]] | None]:
    """Encoding byte -> (VariantType, asyncua's deserializer) for every built-in scalar the fast path takes.

    Not Variant (24): a Variant holding a Variant is unwrapped by the Variant constructor. Encoding bytes
    with the array or dimensions bits set, and unknown types, are None: `_variant_after_encoding`.
    """
    table: list[tuple[ua.VariantType, Callable[[Any], Any]] | None] = [None] * 256
    for vtype in ua.VariantType:
        if 0 < vtype.value <= 25 and vtype is not ua.VariantType.Variant:
            table[vtype.value] = (vtype, ua_binary._create_uatype_deserializer(vtype))
    return table


def _build_tails() -> list[struct.Struct | None]:
    """Encoding mask -> the Struct of the fixed-size fields after the Value, in Part 6 order (None: none)."""
    tails: list[struct.Struct | None] = []
    for mask in range(256):
        fmt = "".join(code for bit, code in ((STATUS_CODE, "I"), (SOURCE_TIMESTAMP, "q"), (SOURCE_PICOSECONDS, "H"),
                                             (SERVER_TIMESTAMP, "q"), (SERVER_PICOSECONDS, "H")) if mask & bit)
        tails.append(struct.Struct("<" + fmt) if fmt else None)
    return tails


# filled by install(), after asyncua's caches were cleared: a deserializer built before the override would
# decode a DataValue inside a Variant (built-in type 23) with asyncua's own codec
_SCALARS: list[tuple[ua.VariantType, Callable[[Any], Any]] | None] = [None] * 256
_TAILS = _build_tails()
_datetimes: dict[int, datetime] = {}
_DATETIMES_MAX = 4096


def _new_datavalue() -> ua.DataValue:
    return ua.DataValue.__new__(ua.DataValue)


def _new_variant() -> ua.Variant:
    return ua.Variant.__new__(ua.Variant)


def _new_statuscode() -> ua.StatusCode:
    return ua.StatusCode.__new__(ua.StatusCode)


def _good() -> ua.StatusCode:
    """What DataValue() puts in an absent StatusCode: a new StatusCode(Good) (it is mutable: one each)."""
    sc = _new_statuscode()
    sc.value = 0  # type: ignore[assignment]  # asyncua annotates its int/datetime subclasses (Byte, UInt32, DateTime); plain values are what it holds at run time
    return sc


def datavalue_to_binary(dv: ua.DataValue) -> bytes:
    """Encode one DataValue in Part 6 order; a field is present (its mask bit set) when it is not None.

    That presence rule is asyncua's own, so what it sends does not change except for the byte order.
    """
    mask = 0
    parts: list[bytes] = []
    if dv.Value is not None:
        mask |= VALUE
        parts.append(ua_binary.variant_to_binary(dv.Value))
    if dv.StatusCode is not None:
        mask |= STATUS_CODE
        parts.append(_U32.pack(dv.StatusCode.value))
    if dv.SourceTimestamp is not None:
        mask |= SOURCE_TIMESTAMP
        parts.append(_I64.pack(ua.datetime_to_win_epoch(dv.SourceTimestamp)))
    if dv.SourcePicoseconds is not None:
        mask |= SOURCE_PICOSECONDS
        parts.append(_U16.pack(dv.SourcePicoseconds))
    if dv.ServerTimestamp is not None:
        mask |= SERVER_TIMESTAMP
        parts.append(_I64.pack(ua.datetime_to_win_epoch(dv.ServerTimestamp)))
    if dv.ServerPicoseconds is not None:
        mask |= SERVER_PICOSECONDS
        parts.append(_U16.pack(dv.ServerPicoseconds))
    return _U8.pack(mask) + b"".join(parts)


def _is_datavalue(objtype: Any) -> bool:
    return objtype is ua.DataValue or objtype == "DataValue"


def install() -> None:
    """Route every DataValue through the Part 6 codec (idempotent; see the module doc)."""
    if getattr(ua_binary._create_dataclass_deserializer, _MARK, False):
        return
    stock_deserializer: Callable[[Any], Any] = ua_binary._create_dataclass_deserializer
    stock_serializer: Callable[[Any], Any] = ua_binary.create_dataclass_serializer

    @functools.cache
    def create_dataclass_deserializer(objtype: type | str) -> Callable[[Buffer | IO[bytes]], Any]:
        if _is_datavalue(objtype):
            return datavalue_from_binary
        return stock_deserializer(objtype)

    @functools.cache
    def create_dataclass_serializer(dataclazz: type) -> Callable[[Any], bytes]:
        if _is_datavalue(dataclazz):
            return datavalue_to_binary
        return stock_serializer(dataclazz)

    setattr(create_dataclass_deserializer, _MARK, True)
    create_dataclass_deserializer.stock = stock_deserializer  # type: ignore[attr-defined]
    create_dataclass_serializer.stock = stock_serializer  # type: ignore[attr-defined]
    # asyncua's functions look these names up in the module at call time, so rebinding them is enough ...
    ua_binary._create_dataclass_deserializer = create_dataclass_deserializer
    ua_binary.create_dataclass_serializer = create_dataclass_serializer
    # ... once no cached factory still holds a codec built before (closures capture them)
    for obj in list(vars(ua_binary).values()):
        clear = getattr(obj, "cache_clear", None)
        if callable(clear):
            clear()
    _SCALARS[:] = _build_scalars()


def stock_codec() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """asyncua's own (deserializer, serializer) factories, for the test that watches for an upstream fix."""
    de = ua_binary._create_dataclass_deserializer
    se = ua_binary.create_dataclass_serializer
    return getattr(de, "stock", de), getattr(se, "stock", se)


install()
