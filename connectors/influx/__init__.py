"""InfluxDB northbound connector: historian records as line protocol over `/api/v2/write`.

`InfluxSink` implements `connectors.base.Sink`; `lineprotocol` documents the
schema users query; `linked_segment` tells AAS clients where the series live.
"""

from connectors.influx.config import InfluxConfig
from connectors.influx.sink import InfluxSink, linked_segment

__all__ = ["InfluxConfig", "InfluxSink", "linked_segment"]
