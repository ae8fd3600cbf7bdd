"""InfluxDB northbound connector: historian records as line protocol over `/api/v2/write`.

`InfluxSink` implements `connectors.base.Sink`; `lineprotocol` documents the schema users
query; `segment.linked_segment` tells AAS clients where the series live; `descriptor` registers
the sink (`connectors.registry`). Importing the package is cheap: influxdb_client is loaded with
the sink.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.influx.config import InfluxConfig
    from connectors.influx.segment import linked_segment
    from connectors.influx.sink import InfluxSink

__all__ = ["InfluxConfig", "InfluxSink", "linked_segment"]


def __getattr__(name: str) -> Any:  # lazy, so that the config model comes without influxdb_client
    if name == "InfluxConfig":
        from connectors.influx.config import InfluxConfig

        return InfluxConfig
    if name == "linked_segment":
        from connectors.influx.segment import linked_segment

        return linked_segment
    if name == "InfluxSink":
        from connectors.influx.sink import InfluxSink

        return InfluxSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
