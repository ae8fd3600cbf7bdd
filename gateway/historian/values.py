"""How sample values are stored in SQLite's dynamic ``value`` column and read back, losslessly.

Values are stored natively (INTEGER, REAL, TEXT, BLOB, NULL) so SQL can
aggregate them. What SQLite cannot hold natively is stored as text that reads
back to the same value: integers beyond 64 bits (a UInt64 above 2^63, a
40-digit xs:integer) as their decimal digits, a Decimal that no float holds
exactly as its digits, a float NaN (which SQLite would turn into NULL) as
``NaN``, lists and dicts as JSON, datetimes as ISO 8601. Reading uses the
series' value type to undo that: booleans come back as bool, text in a numeric
or boolean series (which can only be such an encoded value) is JSON-decoded,
fractions in an xs:decimal series as Decimal. In a text series (xs:string ...)
a list comes back as its JSON text. Every value of a series
whose type holds JSON (arrays, LocalizedText, structures: `PointType.is_json`)
is JSON-decoded, and ByteString (xs:base64Binary) values are BLOBs that come
back as bytes. Encoded values are text, so SQL aggregates
(which take only INTEGER and REAL) leave them out.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from aas_models.datatypes import NUMERIC_TYPES, parse_point_type

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# types sqlite3 stores as they are; int is checked separately for its range, float for NaN
NATIVE: frozenset[type] = frozenset({str, bool, bytes, type(None)})


def _decimal(v: Decimal) -> Any:
    if v.is_finite():
        if v == v.to_integral_value():
            return _int(int(v))
        f = float(v)
        if Decimal(f) == v:  # 0.5, 21.25: a float holds it exactly, and SQL can aggregate it
            return f
    return str(v)  # digits (or NaN, Infinity) as text: json.loads(parse_float=Decimal) reads them back


def _int(v: int) -> int | str:
    return v if _INT64_MIN <= v <= _INT64_MAX else str(v)


def _json_default(v: Any) -> Any:
    # inside JSON an integer of any size is a number; a Decimal no float holds exactly keeps its digits as text
    if isinstance(v, Decimal):
        if v.is_finite():
            if v == v.to_integral_value():
                return int(v)
            if Decimal(f := float(v)) == v:
                return f
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def encode(v: Any) -> Any:
    """Map a value whose type is not in NATIVE to one SQLite can store."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):  # int itself (range check) and subclasses such as IntEnum
        return _int(int(v))
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else float(v)
    if isinstance(v, Decimal):
        return _decimal(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return json.dumps(v, default=_json_default, separators=(",", ":"))


def dead_letter_value(v: Any) -> str:
    """A value SQLite refused (say, text with a lone surrogate) as text that says exactly what it was.

    JSON with every non-ASCII character escaped: lossless, and storable whatever the value held.
    """
    return json.dumps(v, default=_json_default, ensure_ascii=True, separators=(",", ":"))


def _decode_json(v: Any) -> Any:
    if type(v) is str:
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _decode_decimal(v: Any) -> Any:
    if type(v) is str:
        try:
            return json.loads(v, parse_float=Decimal, parse_constant=Decimal)
        except ValueError:
            return v
    return v


def _decode_bool(v: Any) -> Any:
    if type(v) is int:
        return v != 0
    return _decode_json(v)


def decoder(value_type: str | None) -> Callable[[Any], Any] | None:
    """The function turning a stored value of a series of this type back into Python (None: as stored)."""
    if value_type == "xs:boolean":
        return _decode_bool
    if value_type == "xs:decimal":
        return _decode_decimal
    if value_type in NUMERIC_TYPES:
        return _decode_json
    try:
        is_json = value_type is not None and parse_point_type(value_type).is_json
    except ValueError:  # a type this version does not know (a newer gateway's historian): as stored
        return None
    if is_json:
        return _decode_json
    return None
