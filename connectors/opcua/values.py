"""OPC UA DataValues -> Samples, with values reduced to plain Python types.

Sinks (SQLite, JSON, line protocol) understand bool/int/float/str/bytes/
datetime and lists of them; everything richer that OPC UA can carry
(LocalizedText, NodeId, decoded structures) is reduced here, once.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from datetime import datetime
from typing import Any

from asyncua import ua

from connectors.sample import FLAG_SERVER_TS_INVALID, FLAG_SOURCE_TS_INVALID, Sample, timestamp_ns

_PLAIN = (bool, int, float, str, bytes, datetime)


def plain_value(v: Any) -> Any:
    if v is None or isinstance(v, _PLAIN):
        return v
    if isinstance(v, list | tuple):
        return [plain_value(x) for x in v]
    if isinstance(v, ua.LocalizedText):
        return v.Text
    if isinstance(v, ua.QualifiedName | ua.NodeId):
        return v.to_string()
    if isinstance(v, ua.StatusCode):
        return v.value
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: plain_value(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return str(v)


def to_sample(point: str, dv: ua.DataValue, received_ns: int) -> Sample:
    """One DataValue as a Sample; a bad status carries no value (OPC UA Part 4, 7.7.1).

    A timestamp that is no time (OPC UA's null DateTime, before 1970, far future: see
    connectors.sample.plausible_ns) becomes absent and the sample is flagged; the value is kept.
    """
    sc = dv.StatusCode
    status = 0 if sc is None else sc.value
    value = None
    if not (status & 0x80000000) and dv.Value is not None:
        value = plain_value(dv.Value.Value)
    flags = 0
    src_dt, srv_dt = dv.SourceTimestamp, dv.ServerTimestamp
    src = timestamp_ns(src_dt, received_ns)
    if src is None and src_dt is not None:
        flags = FLAG_SOURCE_TS_INVALID
    srv = timestamp_ns(srv_dt, received_ns)
    if srv is None and srv_dt is not None:
        flags |= FLAG_SERVER_TS_INVALID
    return Sample(point, value, src, srv, received_ns, status, flags)
