"""The gateway's InfluxDB line-protocol schema, encoded straight to strings.

This is the hot path of the InfluxDB forwarder, so lines are built with
string formatting from a per-point cached prefix, not with `Point` objects.

Schema (one line per sample)::

    <measurement>,<tags> value=<value>,status=<code>i <timestamp>

- **measurement**: `InfluxConfig.measurement` (default ``aas``).
- **tags**: the configured subset of the point's `PointMeta`
  (``asset``, ``aas_id``, ``submodel``, ``path``, ``unit``, ``semantic_id``;
  default ``asset, submodel, path, unit``), written sorted by key; a tag whose
  value is empty (e.g. a point without unit) is left out.
- **value** field, typed by the point's ``xs:`` value type so that a field
  never changes type (InfluxDB rejects a type change within a series):

  ========================================  ==================  ============
  value type                                Python value        written as
  ========================================  ==================  ============
  xs:double, xs:float, xs:decimal           int/float/bool      ``1.5``, ``21.0``
  xs:int, xs:long, xs:unsigned*, ... (ints) int/bool/whole float ``15i``
  xs:boolean                                bool, 0/1           ``true``/``false``
  StatusCode                                int                 ``2150891520i``
  xs:string, xs:dateTime and other types    str / datetime      ``"text"`` / ``"2024-05-01T08:00:00Z"``
  Guid, NodeId, QualifiedName, XmlElement   str                 ``"ns=2;s=X"``
  xs:base64Binary (ByteString)              bytes               ``"AAH+"`` (base64)
  arrays (``Double[]`` ...), LocalizedText, list, dict          ``"[1.5,2.0]"``: always a JSON string
  structures, DataValue, Variant ...
  other (a point without metadata)          list, dict, other   quoted JSON
  ========================================  ==================  ============

  A value that does not fit its declared type, or a point without metadata,
  is typed by its Python value instead (bool, int -> ``i``, float, str).
  Unsigned integers are written with the ``i`` suffix, not ``u``: InfluxDB 2
  OSS accepts ``u`` only with a feature flag and VictoriaMetrics reads both,
  so ``i`` is the portable choice; a value beyond the int64 range cannot be
  written and is rejected locally.
- **status** field: the OPC UA status code as an integer (``0`` = Good,
  ``>= 2147483648`` = Bad), always present so quality travels with every
  point. It is a field, not a tag: a point changing quality must stay one
  series. A sample without a value (bad status) or with NaN/Infinity (which
  line protocol cannot carry) is written with ``status`` only.
- **timestamp**: the sample's timestamp (source, else server, else gateway
  receive time) in the configured precision (default ms), by integer
  division.

Example (a spindle speed of 1500.5 rpm, Good, 2024-05-01T08:00:00Z)::

    aas,asset=CNC01,path=Spindle.Speed,submodel=OperationalData,unit=1/min value=1500.5,status=0i 1714550400000

Escaping follows the line-protocol rules: commas and spaces in the
measurement; commas, spaces and equals signs in tag keys and values;
double quotes and backslashes in string fields. Newlines, carriage returns
and tabs are written as the two-character escapes ``\\n``, ``\\r``, ``\\t``
(like Telegraf) because several line-protocol parsers (VictoriaMetrics among
them) split lines before honouring quotes: a raw newline would cut the line
in two.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, Literal

from connectors.base import PointMeta, Record
from connectors.batch import BatchSeries, RecordBatch
from connectors.sample import Sample

Kind = Literal["float", "int", "bool", "str", "json", "any"]

_INT_TYPES = {
    "xs:int", "xs:integer", "xs:long", "xs:short", "xs:byte",
    "xs:unsignedInt", "xs:unsignedLong", "xs:unsignedShort", "xs:unsignedByte",
    "xs:nonNegativeInteger", "xs:positiveInteger", "xs:negativeInteger", "xs:nonPositiveInteger",
}
_FLOAT_TYPES = {"xs:double", "xs:float", "xs:decimal"}
_STRING_TYPES = {
    "xs:string", "xs:dateTime", "xs:date", "xs:time", "xs:duration", "xs:anyURI", "xs:base64Binary",
    "xs:hexBinary", "xs:gDay", "xs:gMonth", "xs:gMonthDay", "xs:gYear", "xs:gYearMonth", "langString",
    # OPC UA types the gateway keeps in their text form
    "Guid", "NodeId", "ExpandedNodeId", "QualifiedName", "XmlElement",
}
# point types whose values are JSON arrays or objects (besides every array type, "...[]")
_JSON_TYPES = {"LocalizedText", "Structure", "DataValue", "DiagnosticInfo", "Variant"}

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

PRECISION_DIVISOR = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_STRING = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": r"\n", "\r": r"\r", "\t": r"\t"})


class EncodeError(ValueError):
    """A sample that no line-protocol server could accept (e.g. an integer beyond int64)."""


def escape_measurement(name: str) -> str:
    return name.translate(_ESCAPE_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape a tag key or value."""
    out = text.translate(_ESCAPE_TAG)
    # a trailing backslash would escape the following separator and break the line
    if out.endswith("\\"):
        out += "\\"
    return out


def escape_string(text: str) -> str:
    """Escape the inside of a double-quoted string field value."""
    return text.translate(_ESCAPE_STRING)


def value_kind(value_type: str) -> Kind:
    if value_type in _FLOAT_TYPES:
        return "float"
    if value_type in _INT_TYPES or value_type == "StatusCode":
        return "int"
    if value_type.endswith("[]") or value_type in _JSON_TYPES:
        return "json"
    if value_type == "xs:boolean":
        return "bool"
    if value_type in _STRING_TYPES:
        return "str"
    return "any"


def _int_field(v: int) -> str:
    if v < _INT64_MIN or v > _INT64_MAX:
        raise EncodeError(f"integer {v} is outside the int64 range line protocol can carry")
    return f"{v}i"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (datetime, date, time)):
        return _string_of(value)
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:  # never Python repr text: the sample is refused, visibly
        raise EncodeError(f"value has no JSON form: {e}") from None


def _string_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return _json_text(value)


def _dynamic_field(value: Any) -> str | None:
    """Field text typed by the Python value; None for a non-finite float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _int_field(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return f'"{escape_string(_string_of(value))}"'


def field_value(value: Any, kind: Kind) -> str | None:
    """The `value` field's text for `value` of a point of `kind`; None means: write no value field."""
    if value is None:
        return None
    # bool is an int subclass: test it first everywhere
    if kind == "float":
        if isinstance(value, (int, float)):
            f = float(value)
            return repr(f) if math.isfinite(f) else None
    elif kind == "int":
        if isinstance(value, int):
            return _int_field(int(value))
        if isinstance(value, float) and value.is_integer():
            return _int_field(int(value))
    elif kind == "bool":
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return "true" if value else "false"
    elif kind == "str":
        return f'"{escape_string(_string_of(value))}"'
    elif kind == "json":  # one field type for the whole series, whatever the value's shape
        return f'"{escape_string(_json_text(value))}"'
    return _dynamic_field(value)


def meta_from_point_id(point_id: str) -> PointMeta:
    """Tags for a point the gateway no longer describes (e.g. removed from config, still in history)."""
    parts = point_id.split("/", 2)
    asset, submodel, path = [*parts, "", "", ""][:3]
    return PointMeta(point_id=point_id, asset=asset, aas_id="", submodel=submodel, path=path, value_type="")


class LineEncoder:
    """Encodes samples to lines; the series prefix of each point is computed once."""

    def __init__(self, measurement: str, tags: Sequence[str], precision: str,
                 meta: Mapping[str, PointMeta]) -> None:
        self._measurement = escape_measurement(measurement)
        self._tags = sorted(tags)
        self._divisor = PRECISION_DIVISOR[precision]
        self._meta = meta
        self._cache: dict[str, tuple[str, Kind]] = {}
        # historian series id -> prefix, kind, BatchSeries, whether its stored integers are its values
        self._by_series: dict[int, tuple[str, Kind, BatchSeries | None, bool]] = {}

    def _series(self, point_id: str) -> tuple[str, Kind]:
        meta = self._meta.get(point_id) or meta_from_point_id(point_id)
        parts = [self._measurement]
        for key in self._tags:
            text = getattr(meta, key)
            if text:
                parts.append(f"{escape_tag(key)}={escape_tag(str(text))}")
        entry = (",".join(parts) + " ", value_kind(meta.value_type))
        self._cache[point_id] = entry
        return entry

    def encode(self, sample: Sample) -> str:
        """One line (without newline). Raises EncodeError for a sample no server could accept."""
        entry = self._cache.get(sample.point) or self._series(sample.point)
        prefix, kind = entry
        value = field_value(sample.value, kind)
        ts = sample.ts // self._divisor
        if value is None:
            return f"{prefix}status={sample.status}i {ts}"
        return f"{prefix}value={value},status={sample.status}i {ts}"

    def encode_records(self, records: Iterable[Record]) -> tuple[list[str], list[Record], list[tuple[Record, str]]]:
        """Lines and their records in order, plus the records that cannot be encoded (with why)."""
        lines: list[str] = []
        encoded: list[Record] = []
        failed: list[tuple[Record, str]] = []
        encode = self.encode
        for rec in records:
            try:
                lines.append(encode(rec.sample))
            except EncodeError as e:
                failed.append((rec, f"not encodable as line protocol: {e}"))
                continue
            encoded.append(rec)
        return lines, encoded, failed

    def _batch_series(self, sid: int, batch: RecordBatch) -> tuple[str, Kind, BatchSeries | None, bool]:
        info = batch.series.get(sid)
        prefix, kind = self._series(batch.info(sid).point)
        # a boolean series decodes a stored 7 to True: its integers are not its values
        ints_kept = info is None or type(info.value(7)) is int
        return prefix, kind, info, ints_kept

    def encode_batch(self, batch: RecordBatch) -> tuple[list[str], Sequence[int], list[tuple[Record, str]]]:
        """Lines straight from historian rows, the forwarder's fast path (same lines as encode_records).

        Returns the lines, the row index of each line, and the records that cannot be encoded.
        """
        lines, positions, failed = self.encode_rows(batch)
        return lines, positions, [(batch.record(i), why) for i, why in failed]

    def encode_rows(self, batch: RecordBatch) -> tuple[list[str], Sequence[int], list[tuple[int, str]]]:
        """`encode_batch` with the rows that cannot be encoded by index (no Record built: see BatchEncoder).

        The stored forms of the common cases are formatted inline: a finite float of a float
        series, an integer of an integer series, 0/1 of a boolean series (SQLite integers are
        always within int64). Everything else goes through `field_value` exactly as `encode` does.
        """
        lines: list[str] = []
        append = lines.append
        failed: list[tuple[int, str]] = []
        failed_rows: list[int] = []
        by_series = self._by_series
        series_of = batch.series.get
        divisor = self._divisor
        for i, (_seq, sid, stored, status, ts) in enumerate(batch.rows):
            entry = by_series.get(sid)
            if entry is None or entry[2] is not series_of(sid):
                entry = by_series[sid] = self._batch_series(sid, batch)
            prefix, kind, info, ints_kept = entry
            stored_type = type(stored)
            if stored_type is float:
                if kind == "float" and stored - stored == 0.0:  # finite
                    append(f"{prefix}value={stored!r},status={status}i {ts // divisor}")
                    continue
            elif stored_type is int:
                if kind == "int" and ints_kept:
                    append(f"{prefix}value={stored}i,status={status}i {ts // divisor}")
                    continue
                if kind == "bool" and (stored == 0 or stored == 1):
                    append(f"{prefix}value={'true' if stored else 'false'},status={status}i {ts // divisor}")
                    continue
            try:
                value = field_value(stored if info is None else info.value(stored), kind)
            except EncodeError as e:
                failed.append((i, f"not encodable as line protocol: {e}"))
                failed_rows.append(i)
                continue
            if value is None:
                append(f"{prefix}status={status}i {ts // divisor}")
            else:
                append(f"{prefix}value={value},status={status}i {ts // divisor}")
        positions: Sequence[int] = range(len(batch.rows))
        if failed_rows:  # rare: the row of each line, skipping the rows that failed
            skip = set(failed_rows)
            positions = [i for i in positions if i not in skip]
        return lines, positions, failed


class LineBatchEncoder:
    """`LineEncoder.encode_rows` as a `connectors.batch.BatchEncoder`: picklable, for the forwarder's worker.

    Holds the settings and the point metadata only; the LineEncoder (and its caches) is made where it
    runs, on first use.
    """

    def __init__(self, measurement: str, tags: Sequence[str], precision: str,
                 meta: Mapping[str, PointMeta]) -> None:
        self.measurement = measurement
        self.tags = list(tags)
        self.precision = precision
        self.meta = dict(meta)
        self._encoder: LineEncoder | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_encoder": None}

    def encode(self, batch: RecordBatch) -> tuple[bytes, Sequence[int], list[tuple[int, str]]]:
        if self._encoder is None:
            self._encoder = LineEncoder(self.measurement, self.tags, self.precision, self.meta)
        lines, positions, failed = self._encoder.encode_rows(batch)
        return "\n".join(lines).encode(), positions, failed
