"""AAS value types (xs:*) and how a reading is coerced into one.

The configuration names the AAS valueType of every point; OPC UA built-in
type names are accepted as aliases (Double -> xs:double, Int32 -> xs:int ...)
because that is what integrators read off the PLC. Coercion happens once,
in the pipeline, so every sink sees the declared type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# canonical xs name -> (python kind, integer range or None)
_INT_RANGES: dict[str, tuple[int, int]] = {
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
_FLOATS = {"xs:double", "xs:float", "xs:decimal"}
_OTHERS = {"xs:boolean", "xs:string", "xs:dateTime", "xs:anyURI", "xs:duration"}

VALUE_TYPES: frozenset[str] = frozenset(_INT_RANGES) | _FLOATS | _OTHERS
NUMERIC_TYPES: frozenset[str] = frozenset(_INT_RANGES) | _FLOATS

_ALIASES: dict[str, str] = {
    # OPC UA built-in type names
    "boolean": "xs:boolean",
    "sbyte": "xs:byte",
    "byte": "xs:unsignedByte",
    "int16": "xs:short",
    "uint16": "xs:unsignedShort",
    "int32": "xs:int",
    "uint32": "xs:unsignedInt",
    "int64": "xs:long",
    "uint64": "xs:unsignedLong",
    "float": "xs:float",
    "double": "xs:double",
    "string": "xs:string",
    "datetime": "xs:dateTime",
    # short forms
    "bool": "xs:boolean",
    "int": "xs:int",
    "long": "xs:long",
    "short": "xs:short",
}


def canonical_value_type(name: str) -> str:
    """Normalise a configured type name to its xs: form; raises ValueError if unknown."""
    if name in VALUE_TYPES:
        return name
    key = name.strip().lower()
    for vt in VALUE_TYPES:
        if vt.lower() == key:
            return vt
    alias = _ALIASES.get(key)
    if alias is None:
        choices = ", ".join(sorted(VALUE_TYPES))
        raise ValueError(f"unknown data type {name!r}; use one of {choices} or an OPC UA built-in type name")
    return alias


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
    raise TypeError(f"cannot convert {type(v).__name__} {v!r} to xs:boolean")


def _int_coercer(lo: int, hi: int, vt: str) -> Callable[[Any], int]:
    def coerce(v: Any) -> int:
        if isinstance(v, bool):
            r = int(v)
        elif isinstance(v, int):
            r = v
        elif isinstance(v, float):
            if not v.is_integer():
                raise TypeError(f"{v!r} is not an integer ({vt})")
            r = int(v)
        elif isinstance(v, str):
            r = int(v.strip())
        else:
            raise TypeError(f"cannot convert {type(v).__name__} to {vt}")
        if not lo <= r <= hi:
            raise TypeError(f"{r} out of range for {vt}")
        return r

    return coerce


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        return float(v.strip())
    raise TypeError(f"cannot convert {type(v).__name__} to a float")


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return str(v)


def _to_datetime(v: Any) -> str:
    """xs:dateTime values travel as ISO 8601 strings with an explicit UTC offset."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, str):
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return _to_datetime(dt)
    raise TypeError(f"cannot convert {type(v).__name__} to xs:dateTime")


# xs:duration (XML Schema 1.1): what IDTA 02066 uses for every time process variable
_XS_DURATION = re.compile(r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def seconds_to_duration(seconds: float) -> str:
    """Seconds as an xs:duration in hours, minutes and seconds (``PT7H30M``, ``PT0S``, ``-PT1.5S``)."""
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds!r} is not a duration")
    sign = "-" if seconds < 0 else ""
    ms = round(abs(seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    text = (f"{h}H" if h else "") + (f"{m}M" if m else "")
    if frac:
        text += f"{s}.{frac:03d}".rstrip("0") + "S"
    elif s or not text:
        text += f"{s}S"
    return f"{sign}PT{text}"


def _to_duration(v: Any) -> str:
    """xs:duration values travel as their lexical form; a number is taken as seconds."""
    if isinstance(v, bool):
        raise TypeError("cannot convert bool to xs:duration")
    if isinstance(v, int | float):
        return seconds_to_duration(float(v))
    if isinstance(v, str):
        text = v.strip()
        if not _XS_DURATION.fullmatch(text):
            raise ValueError(f"{v!r} is not an xs:duration such as PT1H30M")
        return text
    raise TypeError(f"cannot convert {type(v).__name__} to xs:duration")


def coercer(value_type: str) -> Callable[[Any], Any]:
    """The function that turns a raw reading into the python value of `value_type`.

    It raises TypeError or ValueError when the reading does not fit; the
    caller marks that sample BadTypeMismatch instead of storing it.
    """
    vt = canonical_value_type(value_type)
    if vt in _INT_RANGES:
        lo, hi = _INT_RANGES[vt]
        return _int_coercer(lo, hi, vt)
    if vt in _FLOATS:
        return _to_float
    if vt == "xs:boolean":
        return _to_bool
    if vt == "xs:dateTime":
        return _to_datetime
    if vt == "xs:duration":
        return _to_duration
    return _to_str
