"""Wiring: one `Gateway` object builds sources, pipeline and sinks from the config.

Startup order is sinks first (historian open, series registered), then the
sources, so that no sample can arrive before it has somewhere durable to go.
Shutdown is the reverse: sources stop, then the historian flushes and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from connectors.base import ConnectionState, Source, SourceHealth
from connectors.opcua import OpcUaPointSpec, OpcUaSource
from connectors.sample import Sample, ns_to_iso
from gateway.config import AssetConfig, GatewayConfig, point_id
from gateway.historian import Historian
from gateway.pipeline import Pipeline, PointInfo

log = logging.getLogger(__name__)

_STATE_VALUES = {ConnectionState.CONNECTED: 1, ConnectionState.CONNECTING: 0, ConnectionState.DISCONNECTED: -1,
                 ConnectionState.STOPPED: -2}


class HistorianSink:
    name = "historian"

    def __init__(self, historian: Historian) -> None:
        self._historian = historian

    async def put(self, samples: Sequence[Sample]) -> None:
        await self._historian.append(samples)


def point_infos(cfg: GatewayConfig) -> list[PointInfo]:
    return [PointInfo(point_id(a.id_short, p.submodel, p.path), a.id_short, p.submodel, p.path, p.type, p.unit)
            for a in cfg.assets for p in a.points]


def build_source(asset: AssetConfig) -> Source:
    """The southbound connector of one asset (the only place that knows connector types)."""
    specs = [OpcUaPointSpec(point_id(asset.id_short, p.submodel, p.path), node=p.node, browse_path=p.browse_path,
                            sampling_interval_ms=p.sampling_interval_ms, queue_size=p.queue_size,
                            deadband=p.deadband)
             for p in asset.points]
    return OpcUaSource(asset.id_short, asset.source, specs)


class Gateway:
    def __init__(self, cfg: GatewayConfig, registry: CollectorRegistry | None = None) -> None:
        self.cfg = cfg
        self.registry = registry if registry is not None else CollectorRegistry()
        self.historian = Historian(cfg.historian, registry=self.registry)
        self.pipeline = Pipeline(point_infos(cfg), registry=self.registry)
        self.pipeline.add_sink(HistorianSink(self.historian))
        self.sources: dict[str, Source] = {a.id_short: build_source(a) for a in cfg.assets}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._g_state = Gauge("gateway_source_connected", "1 connected, 0 connecting, -1 disconnected",
                              ["asset", "endpoint"], registry=self.registry)

    async def start(self) -> None:
        if self._started:
            return
        await self.historian.open()
        for info in self.pipeline.points.values():
            await self.historian.register_series(info.point_id, info.value_type, info.unit)
        for name, source in self.sources.items():
            self._tasks.append(asyncio.create_task(self._run_source(name, source), name=f"source:{name}"))
        self._tasks.append(asyncio.create_task(self._export_state(), name="source-state"))
        self._started = True
        log.info("gateway %s started: %d assets, %d points, historian %s", self.cfg.gateway.name,
                 len(self.sources), len(self.pipeline.points), self.cfg.historian.path)

    async def _run_source(self, name: str, source: Source) -> None:
        # a source only returns by cancellation; anything else is a bug we log and survive
        while True:
            try:
                await source.run(self.pipeline.publish)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("source %s crashed; restarting it in 5 s", name)
                await asyncio.sleep(5)

    async def _export_state(self) -> None:
        while True:
            for h in self.health():
                self._g_state.labels(h.name, h.endpoint).set(_STATE_VALUES.get(h.state, 0))
            await asyncio.sleep(1)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.historian.close()
        log.info("gateway stopped; historian flushed and closed")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def health(self) -> list[SourceHealth]:
        return [s.health() for s in self.sources.values()]

    def status_lines(self) -> list[str]:
        """One human-readable line per asset, for the CLI."""
        lines = []
        for h in self.health():
            last = ns_to_iso(h.last_sample_ns) if h.last_sample_ns else "-"
            lines.append(f"{h.name:<10} {h.state.value:<12} {h.endpoint}  points={len(h.points)} "
                         f"bad={h.bad_points} last_sample={last}"
                         + (f"  error={h.last_error}" if h.state != ConnectionState.CONNECTED and h.last_error else ""))
        return lines
