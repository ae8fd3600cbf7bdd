"""Registers MQTT as a source (sensors) and as a sink (the unified namespace); paho is imported only to build one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.mqtt.config import MqttPointConfig, MqttPointSpec, MqttPublisherConfig, MqttSourceConfig
from connectors.mqtt.topics import asset_events_topic
from connectors.registry import BuildContext, ConnectorDescriptor, SinkRole, SourcePoint, SourceRole, register

if TYPE_CHECKING:
    from connectors.base import ForwardSink, PointMeta, Source


def create_source(name: str, cfg: MqttSourceConfig, points: Sequence[SourcePoint[MqttPointConfig]],
                  ctx: BuildContext) -> Source:
    from connectors.mqtt.source import MqttSource

    return MqttSource(name, cfg, [MqttPointSpec(p.point_id, p.fields.topic, p.fields.pointer or "", p.structured)
                                  for p in points])


def check_asset(cfg: MqttSourceConfig, points: Sequence[MqttPointConfig]) -> Iterator[tuple[str, str]]:
    if cfg.topic is None:
        for i, p in enumerate(points):
            if p.topic is None:
                yield f"points[{i}].topic", "no topic here and no default topic on the source"


def source_endpoint(cfg: MqttSourceConfig) -> str:
    return f"{cfg.broker.url}/{cfg.topic or ''}"


def source_summary(cfg: MqttSourceConfig) -> str:
    return f"{source_endpoint(cfg)}  mqtt qos={cfg.qos} tls={'on' if cfg.broker.tls else 'off'}"


def create_sink(name: str, cfg: MqttPublisherConfig, meta: Mapping[str, PointMeta], ctx: BuildContext) -> ForwardSink:
    from connectors.mqtt.publisher import MqttPublisher

    return MqttPublisher(name, cfg, meta, ctx.gateway_id)


def sink_endpoint(cfg: MqttPublisherConfig) -> str:
    return f"{cfg.broker.url}/{cfg.topic_prefix}"


def events_topic(cfg: MqttPublisherConfig, asset: str) -> str:
    return asset_events_topic(cfg.topic_prefix, asset)


DESCRIPTOR = register(ConnectorDescriptor(
    "mqtt", "MQTT",
    source=SourceRole(config=MqttSourceConfig, point=MqttPointConfig, create=create_source, endpoint=source_endpoint,
                      summary=source_summary, check_asset=check_asset),
    sink=SinkRole(config=MqttPublisherConfig, create=create_sink, endpoint=sink_endpoint, events_topic=events_topic),
    sample_config=Path(__file__).with_name("sample.yaml"),
))
