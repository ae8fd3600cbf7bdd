"""How sample values are stored in SQLite's dynamic ``value`` column and read back.

Values are stored natively (INTEGER, REAL, TEXT, BLOB, NULL) so SQL can
aggregate them. What SQLite cannot hold natively is stored as text: lists and
dicts as JSON, integers beyond 64 bits as decimal digits, datetimes as ISO
8601. Reading uses the series' value type to undo that: booleans come back as
bool, and text in a numeric or boolean series (which can only be such an
encoded value) is JSON-decoded, as is every value of a series whose type holds
JSON (arrays, LocalizedText, structures: `PointType.is_json`), so reading back
gives the value that was stored. ByteString (xs:base64Binary) values are BLOBs
and come back as bytes. In a text series (xs:string ...) a list comes back as
its JSON text. SQLite stores a float NaN as NULL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aas_models.datatypes import NUMERIC_TYPES, parse_point_type

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# types sqlite3 stores as they are; int is checked separately for its range
NATIVE: frozenset[type] = frozenset({float, str, bool, bytes, type(None)})


def encode(v: Any) -> Any:
    """Map a value whose type is not in NATIVE to one SQLite can store."""
    if isinstance(v, int):  # int itself (range check) and subclasses such as IntEnum
        v = int(v)
        return v if _INT64_MIN <= v <= _INT64_MAX else str(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return json.dumps(v, default=str, separators=(",", ":"))


def _decode_json(v: Any) -> Any:
    if type(v) is str:
        try:
            return json.loads(v)
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
    if value_type in NUMERIC_TYPES:
        return _decode_json
    try:
        is_json = value_type is not None and parse_point_type(value_type).is_json
    except ValueError:  # a type this version does not know (a newer gateway's historian): as stored
        return None
    if is_json:
        return _decode_json
    return None
