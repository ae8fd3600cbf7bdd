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
    """Decode one DataValue in Part 6 order (Value, StatusCode, SourceTs, SourcePico, ServerTs, ServerPico)."""
    read = data.read
    mask = read(1)[0]
    kwargs: dict[str, Any] = {}
    if mask & VALUE:
        kwargs["Value"] = ua_binary.variant_from_binary(data)
    if mask & STATUS_CODE:
        kwargs["StatusCode"] = ua.StatusCode(_U32.unpack(read(4))[0])
    if mask & SOURCE_TIMESTAMP:
        kwargs["SourceTimestamp"] = ua.win_epoch_to_datetime(_I64.unpack(read(8))[0])
    if mask & SOURCE_PICOSECONDS:
        kwargs["SourcePicoseconds"] = _U16.unpack(read(2))[0]
    if mask & SERVER_TIMESTAMP:
        kwargs["ServerTimestamp"] = ua.win_epoch_to_datetime(_I64.unpack(read(8))[0])
    if mask & SERVER_PICOSECONDS:
        kwargs["ServerPicoseconds"] = _U16.unpack(read(2))[0]
    # absent fields take the dataclass defaults, as asyncua's decoder does (StatusCode: Good, Value: null Variant)
    return ua.DataValue(**kwargs)


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


def stock_codec() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """asyncua's own (deserializer, serializer) factories, for the test that watches for an upstream fix."""
    de = ua_binary._create_dataclass_deserializer
    se = ua_binary.create_dataclass_serializer
    return getattr(de, "stock", de), getattr(se, "stock", se)


install()
