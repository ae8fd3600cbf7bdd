"""JSON payloads the MQTT publisher sends: the documented contract for subscribers.

Dashboards and MES code parse these messages without knowing anything else about the gateway,
so the schema is fixed (every key is always present, `null` when unknown) and lives here.

Per point (`payload: per_point`, topic `{prefix}/{asset}/{submodel}/{path levels}`)::

    {
      "value": 21.5,                      # JSON number/string/boolean (array, object for arrays, structures,
                                          # LocalizedText: as the element's $value); null when the status is bad
      "timestamp": "2026-03-01T08:00:00.123456Z",  # the sample's time: source, else server, else receive
      "sourceTimestamp": "2026-03-01T08:00:00.123456Z",  # from the device, or null
      "serverTimestamp": null,            # from the OPC UA server, or null
      "status": "Good",                   # OPC UA status code, symbolic name
      "statusCode": 0,                    # the same as an integer (e.g. 2156527616 = BadNotConnected)
      "quality": "good",                  # "good" | "uncertain" | "bad" (the code's severity)
      "semanticId": "0173-1#02-AAB381#003",  # of the AAS element, or null
      "unit": "degC",                     # or null
      "historical": false,                # true only when replayed after an outage (Sparkplug is_historical)
      "seq": 1234                         # the gateway's store position: equal seq = the same sample again
    }

Timestamps are RFC 3339 in UTC with a `Z`, microsecond resolution. Delivery is at least once:
after a lost connection a few messages may arrive twice; `seq` (per gateway) identifies them.
Non-finite doubles are sent as the xs:double strings "NaN", "INF", "-INF"; xs:dateTime values as
RFC 3339 strings; binary values (ByteString) as base64 strings. Arrays, structures and LocalizedText
are native JSON in the ValueOnly form of their AAS element: ``[1.5, 2.0]``, ``{"Speed": 1.5}``,
``[{"en": "Running"}]``; a Variant point ``{"Type": "Double", "Value": 1.5}``.

Per asset (`payload: per_asset`, topic `{prefix}/{asset}/$batch`, at most `batch_size` samples)::

    {"asset": "CNC01", "aasId": "https://example.com/aas/CNC01",
     "samples": [{"submodel": "OperationalData", "path": "Spindle.Speed", <all per-point keys>}, ...]}

Status (`{prefix}/$status/{gatewayId}` and `{prefix}/{asset}/$status`, retained, QoS 1)::

    {"status": "online" | "offline", "timestamp": "...Z" | null, "gateway": "gw1",
     "reason": null | "shutdown" | "connection lost",
     "asset": "CNC01", "aasId": "..."}      # the last two only on asset status topics

`timestamp` is null only in the last will, whose content the broker sends as registered at connect.

Events (`{prefix}/{asset}/$events`, QoS and retain as configured): points whose values are event
messages (e.g. an alarm's transitions, gateway/detect) are not wrapped as readings; the message is
the AAS EventPayload the producer stored (`source`, `sourceSemanticId`, `observableReference`,
`observableSemanticId`, `subjectId`, `timeStamp`, `payload` as a JSON object) with the gateway's
`topic`, `seq` and `historical` added::

    {"source": {"type": "ModelReference", "keys": [...]}, "observableReference": {...},
     "timeStamp": "...Z", "payload": {"alarm": "Barrel_Zone1_Temperature", "transition": "raised",
     "state": "Unacknowledged", ...}, "topic": "plant1/aas/IMM01/$events", "seq": 1234, "historical": false}
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.base import PointMeta, Record
from connectors.sample import datetime_to_ns, ns_to_iso
from connectors.status import severity, status_name

_NAME_CACHE: dict[int, str] = {}


def _status_name(code: int) -> str:
    # status_name may consult asyncua's table; a handful of codes recur, so look each up once
    name = _NAME_CACHE.get(code)
    if name is None:
        name = _NAME_CACHE[code] = status_name(code)
    return name


def json_value(value: Any) -> Any:
    """A sample value as a JSON-safe value (see the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
    if isinstance(value, datetime):
        ns = datetime_to_ns(value)
        assert ns is not None
        return ns_to_iso(ns)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def _default(obj: Any) -> Any:
    converted = json_value(obj)
    return str(obj) if converted is obj else converted


# one encoder for every message: json.dumps with options builds a new JSONEncoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)


def dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


def sample_dict(record: Record, meta: PointMeta, historical: bool) -> dict[str, Any]:
    s = record.sample
    source = ns_to_iso(s.source_ts) if s.source_ts is not None else None
    return {
        "value": json_value(s.value),
        "timestamp": source if source is not None else ns_to_iso(s.ts),
        "sourceTimestamp": source,
        "serverTimestamp": ns_to_iso(s.server_ts) if s.server_ts is not None else None,
        "status": _status_name(s.status),
        "statusCode": s.status,
        "quality": "good" if s.status == 0 else severity(s.status),
        "semanticId": meta.semantic_id,
        "unit": meta.unit,
        "historical": historical,
        "seq": record.seq,
    }


def point_payload(record: Record, meta: PointMeta, historical: bool) -> bytes:
    return dumps(sample_dict(record, meta, historical))


def asset_payload(asset: str, aas_id: str, items: Sequence[tuple[Record, PointMeta, bool]]) -> bytes:
    samples = []
    for record, meta, historical in items:
        d = {"submodel": meta.submodel, "path": meta.path}
        d.update(sample_dict(record, meta, historical))
        samples.append(d)
    return dumps({"asset": asset, "aasId": aas_id, "samples": samples})


def event_payload(record: Record, topic: str, historical: bool) -> bytes:
    """An event message: the stored JSON object with topic, seq and historical added (see the docstring)."""
    value = record.sample.value
    try:
        msg = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        msg = None
    if not isinstance(msg, dict):  # not an object: carried as it is, still an event
        msg = {"payload": json_value(value), "timeStamp": ns_to_iso(record.sample.ts)}
    msg["topic"] = topic
    msg["seq"] = record.seq
    msg["historical"] = historical
    return dumps(msg)


def status_payload(status: str, gateway_id: str, ts_ns: int | None, reason: str | None = None,
                   asset: str | None = None, aas_id: str | None = None) -> bytes:
    d: dict[str, Any] = {"status": status, "timestamp": ns_to_iso(ts_ns) if ts_ns is not None else None,
                         "gateway": gateway_id, "reason": reason}
    if asset is not None:
        d["asset"] = asset
        d["aasId"] = aas_id
    return dumps(d)
