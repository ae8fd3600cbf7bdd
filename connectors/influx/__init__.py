"""InfluxDB northbound connector: historian records as line protocol over `/api/v2/write`.

`InfluxSink` implements `connectors.base.ForwardSink`; `lineprotocol` documents the
schema users query; `linked_segment` tells AAS clients where the series live.

The package's names are loaded on first use: the config model is read by every CLI command,
influxdb-client (about 0.5 s to import) only by a gateway that forwards to InfluxDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.influx.config import InfluxConfig
    from connectors.influx.sink import InfluxSink, linked_segment

__all__ = ["InfluxConfig", "InfluxSink", "linked_segment"]

_HOME = {"InfluxConfig": "connectors.influx.config", "InfluxSink": "connectors.influx.sink",
         "linked_segment": "connectors.influx.sink"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'connectors.influx' has no attribute {name!r}")
