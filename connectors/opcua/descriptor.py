"""Registers the OPC UA source (see `connectors.registry`); asyncua is imported only to build one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.opcua.config import OpcUaPointConfig, OpcUaSourceConfig
from connectors.registry import BuildContext, ConnectorDescriptor, SourcePoint, SourceRole, register

if TYPE_CHECKING:
    from connectors.base import Source


def create_source(name: str, cfg: OpcUaSourceConfig, points: Sequence[SourcePoint[OpcUaPointConfig]],
                  ctx: BuildContext) -> Source:
    from connectors.opcua.config import OpcUaPointSpec
    from connectors.opcua.source import OpcUaSource

    specs = [OpcUaPointSpec(p.point_id, node=p.fields.node, browse_path=p.fields.browse_path,
                            sampling_interval_ms=p.fields.sampling_interval_ms, queue_size=p.fields.queue_size,
                            deadband=p.fields.deadband, type=p.value_type)
             for p in points]
    return OpcUaSource(name, cfg, specs, pki=ctx.pki)


def endpoint(cfg: OpcUaSourceConfig) -> str:
    return cfg.endpoint


def summary(cfg: OpcUaSourceConfig) -> str:
    return f"{cfg.endpoint}  mode={cfg.mode} security={cfg.security.policy}/{cfg.security.mode}"


def expected_rate(cfg: OpcUaSourceConfig, point: OpcUaPointConfig) -> float:
    """Sampling instants per second: polled at the point's interval (else the publishing interval); a
    subscription samples at the point's or the source's sampling interval (0: the publishing interval)."""
    if cfg.mode == "poll":
        interval_ms = point.sampling_interval_ms or cfg.publishing_interval_ms
    else:
        sampling = point.sampling_interval_ms if point.sampling_interval_ms is not None else cfg.sampling_interval_ms
        interval_ms = sampling or cfg.publishing_interval_ms
    return 1000.0 / interval_ms


DESCRIPTOR = register(ConnectorDescriptor(
    "opcua", "OPC UA",
    source=SourceRole(config=OpcUaSourceConfig, point=OpcUaPointConfig, create=create_source, endpoint=endpoint,
                      summary=summary, writes=True, expected_rate=expected_rate,
                      default=True),
    sample_config=Path(__file__).with_name("sample.yaml"),
))
