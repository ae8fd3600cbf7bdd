"""Registers the InfluxDB sink; influxdb_client is imported only to build one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.influx.config import InfluxConfig
from connectors.influx.segment import linked_segment
from connectors.registry import BuildContext, ConnectorDescriptor, SinkRole, register

if TYPE_CHECKING:
    from connectors.base import ForwardSink, PointMeta


def create_sink(name: str, cfg: InfluxConfig, meta: Mapping[str, PointMeta], ctx: BuildContext) -> ForwardSink:
    from connectors.influx.sink import InfluxSink

    return InfluxSink(name, cfg, meta)


def endpoint(cfg: InfluxConfig) -> str:
    return f"{cfg.url} org={cfg.org} bucket={cfg.bucket}"


DESCRIPTOR = register(ConnectorDescriptor(
    "influxdb", "InfluxDB",
    sink=SinkRole(config=InfluxConfig, create=create_sink, endpoint=endpoint, linked_segment=linked_segment),
    sample_config=Path(__file__).with_name("sample.yaml"),
))
