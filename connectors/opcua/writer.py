"""One OPC UA Write of a point's value, with the Variant type its AAS valueType implies.

A PLC checks the Variant's built-in type strictly (an Int32 variable refuses an Int64 or a
Double), so the type comes from the point's declared valueType, never from the Python value.
The DataValue carries neither timestamps nor a status code: most PLCs (Siemens S7-1500, B&R,
Beckhoff) answer BadWriteNotSupported when a client supplies them. Every failure becomes a
`WriteError` naming the OPC UA status code, so an operator reads the machine's own reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors import status as st
from connectors.base import WriteError, WriteValueError

_VARIANT_TYPES: dict[str, ua.VariantType] = {
    "xs:boolean": ua.VariantType.Boolean,
    "xs:byte": ua.VariantType.SByte,
    "xs:unsignedByte": ua.VariantType.Byte,
    "xs:short": ua.VariantType.Int16,
    "xs:unsignedShort": ua.VariantType.UInt16,
    "xs:int": ua.VariantType.Int32,
    "xs:unsignedInt": ua.VariantType.UInt32,
    "xs:long": ua.VariantType.Int64,
    "xs:unsignedLong": ua.VariantType.UInt64,
    "xs:integer": ua.VariantType.Int64,
    "xs:nonNegativeInteger": ua.VariantType.UInt64,
    "xs:float": ua.VariantType.Float,
    "xs:double": ua.VariantType.Double,
    "xs:decimal": ua.VariantType.Double,
    "xs:string": ua.VariantType.String,
    "xs:anyURI": ua.VariantType.String,
    "xs:dateTime": ua.VariantType.DateTime,
    "xs:base64Binary": ua.VariantType.ByteString,
    # OPC UA types the gateway keeps as text (or a number) in the model, written back in their own type
    "Guid": ua.VariantType.Guid,
    "NodeId": ua.VariantType.NodeId,
    "ExpandedNodeId": ua.VariantType.ExpandedNodeId,
    "QualifiedName": ua.VariantType.QualifiedName,
    "XmlElement": ua.VariantType.XmlElement,
    "StatusCode": ua.VariantType.StatusCode,
}
# text form -> the asyncua object of that type
_FROM_TEXT: dict[ua.VariantType, Callable[[str], object]] = {
    ua.VariantType.Guid: uuid.UUID,
    ua.VariantType.NodeId: ua.NodeId.from_string,
    ua.VariantType.ExpandedNodeId: ua.ExpandedNodeId.from_string,
    ua.VariantType.QualifiedName: ua.QualifiedName.from_string,
    ua.VariantType.XmlElement: lambda text: ua.XmlElement(text),  # type: ignore[arg-type]  # asyncua str subtype
}
_INTS = {ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
         ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64}


def variant_type(value_type: str) -> ua.VariantType:
    try:
        return _VARIANT_TYPES[value_type]
    except KeyError:
        raise WriteValueError("BadTypeMismatch", f"values of type {value_type} cannot be written (single values "
                              "only: no arrays, LocalizedText or structures)") from None


def to_variant(value: object, value_type: str) -> ua.Variant:
    """`value` as the Variant an OPC UA server expects for `value_type` (WriteError if it cannot be)."""
    vt = variant_type(value_type)
    try:
        v: object
        if vt == ua.VariantType.Boolean:
            if not isinstance(value, bool):
                raise TypeError("not a boolean")
            v = value
        elif vt in _INTS:
            if isinstance(value, bool) or not isinstance(value, int | Decimal) or int(value) != value:
                raise TypeError("not an integer")
            v = int(value)
        elif vt in (ua.VariantType.Float, ua.VariantType.Double):
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise TypeError("not a number")
            v = float(value)
        elif vt == ua.VariantType.DateTime:
            if not isinstance(value, datetime):
                raise TypeError("not a datetime")
            v = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        elif vt == ua.VariantType.ByteString:
            if not isinstance(value, bytes | bytearray):
                raise TypeError("not bytes")
            v = bytes(value)
        elif vt == ua.VariantType.StatusCode:
            if isinstance(value, bool) or not isinstance(value, int | Decimal) or not 0 <= int(value) < 2**32:
                raise TypeError("not a status code (an integer of 32 bits)")
            v = ua.StatusCode(int(value))  # type: ignore[arg-type]  # asyncua int subtype
        elif vt in _FROM_TEXT:
            if not isinstance(value, str):
                raise TypeError("not a string")
            v = _FROM_TEXT[vt](value)
        else:
            v = str(value)
        return ua.Variant(v, vt)
    except (TypeError, ValueError, ArithmeticError, ua.UaError) as e:
        raise WriteValueError("BadTypeMismatch", f"{value!r} cannot be written as {vt.name} ({value_type}): {e}") \
            from None


async def write_value(client: Client | None, node_id: ua.NodeId | None, value: object, value_type: str,
                      timeout_s: float) -> None:
    """Write `value` to `node_id` over `client` (None: not connected); WriteError on any refusal."""
    if client is None:
        raise WriteError("BadNotConnected", "no session to the server")
    if node_id is None:
        raise WriteError("BadNodeIdUnknown", "the point's node is not resolved on the server")
    dv = ua.DataValue(to_variant(value, value_type), StatusCode=None)
    try:
        results = await asyncio.wait_for(client.uaclient.write_attributes([node_id], [dv]), timeout_s)
    except TimeoutError:
        raise WriteError("BadTimeout", f"no answer within {timeout_s:g} s") from None
    except ua.UaStatusCodeError as e:  # the whole service call failed (session gone, too many operations ...)
        raise WriteError(st.status_name(e.code), str(e)) from None
    except (OSError, ConnectionError, ua.UaError) as e:
        raise WriteError("BadCommunicationError", f"{type(e).__name__}: {e}") from None
    code = results[0].value
    if st.is_bad(code):
        raise WriteError(st.status_name(code), f"the server refused the write of {value!r} to {node_id.to_string()}")
