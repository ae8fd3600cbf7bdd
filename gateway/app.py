"""Wiring: one `Gateway` object builds sources, pipeline, sinks, model and API from the config.

Startup order is sinks first (historian open, series registered), then the
sources, so that no sample can arrive before it has somewhere durable to go;
the API comes last. Shutdown is the reverse: API and sources stop, then the
historian flushes and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from basyx.aas import model
from prometheus_client import CollectorRegistry, Gauge

import gateway.detect.producer  # registers the detection producer (imported for that alone)
import gateway.kpi.producer  # noqa: F401  (registers the KPI producer factory)
from aas_models.builder import AssetModel
from aas_models.datatypes import parse_point_type
from aas_models.environment import build_repository
from aas_models.ids import submodel_id
from aas_models.repository import ModelRepository
from aas_models.spec import AssetSpec, PointSpec
from connectors.base import ConnectionState, ForwardSink, PointMeta, Source, SourceHealth
from connectors.opcua.pki import Pki
from connectors.registry import BuildContext, SourcePoint
from connectors.sample import Sample, ns_to_iso, point_id
from gateway.api_server import ApiServer
from gateway.audit import AuditLog
from gateway.config import AssetConfig, ForwarderConfig, GatewayConfig
from gateway.derived import Producer, build_producers
from gateway.forwarder import Forwarder, ForwarderMetrics, ForwarderSettings
from gateway.gc_tuning import keep_frozen
from gateway.historian import Historian
from gateway.live import LiveModelSink, follow_state_changes, refresh_status
from gateway.loop_lag import LoopLag
from gateway.malloc_tuning import keep_mmap_threshold
from gateway.ops.service import GatewayOps
from gateway.pipeline import Pipeline, PointInfo
from gateway.value_writer import ValueWriter, WritePoint

if TYPE_CHECKING:
    from gateway.auth.policy import AccessPolicy
    from gateway.ui.dashboard import Dashboard

API_BASE_PATH = "/api/v3.0"

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


def asset_spec(asset: AssetConfig, history_url: str | None) -> AssetSpec:
    """The asset as aas_models sees it (aas_models knows nothing of the config format)."""
    points = tuple(PointSpec(point_id(asset.id_short, p.submodel, p.path), p.submodel, p.path, p.type, p.unit,
                             p.semantic_id, p.description, p.writable, p.source_address())
                   for p in asset.points)
    nameplate = asset.nameplate.model_dump(exclude_none=True) if asset.nameplate else None
    return AssetSpec(asset.id, asset.id_short, asset.global_asset_id, points, asset.description, nameplate,
                     asset.connector.endpoint(asset.source), asset.source.type, history_url)


def build_model(cfg: GatewayConfig, history_url: str | None = None) -> tuple[ModelRepository, dict[str, AssetModel]]:
    return build_repository([asset_spec(a, history_url) for a in cfg.assets])


def build_source(asset: AssetConfig, context: BuildContext) -> Source:
    """The southbound connector of one asset, built by its registered factory (connectors.registry)."""
    points = [SourcePoint(point_id(asset.id_short, p.submodel, p.path), p.type, parse_point_type(p.type).is_json,
                          p.writable, p) for p in asset.points]
    return asset.connector.create(asset.id_short, asset.source, points, context)


def write_points(cfg: GatewayConfig) -> dict[tuple[str, str], WritePoint]:
    """(submodel id, idShortPath) -> the point behind that Property, for PATCH $value."""
    return {(submodel_id(a.id, p.submodel), p.path): WritePoint(point_id(a.id_short, p.submodel, p.path), a.id_short,
                                                                p.type, p.writable)
            for a in cfg.assets for p in a.points}


def point_meta(cfg: GatewayConfig) -> dict[str, PointMeta]:
    return {point_id(a.id_short, p.submodel, p.path): PointMeta(point_id(a.id_short, p.submodel, p.path),
                                                                a.id_short, a.id, p.submodel, p.path, p.type,
                                                                p.unit, p.semantic_id)
            for a in cfg.assets for p in a.points}


def build_sink(fw: ForwarderConfig, meta: dict[str, PointMeta], context: BuildContext) -> ForwardSink:
    """A forwarder's northbound connector, built by its registered factory (connectors.registry)."""
    return fw.connector.create(fw.name, fw.sink, meta, context)


class Gateway:
    def __init__(self, cfg: GatewayConfig, registry: CollectorRegistry | None = None) -> None:
        self.cfg = cfg
        self.registry = registry if registry is not None else CollectorRegistry()
        self.historian = Historian(cfg.historian, registry=self.registry)
        self.pipeline = Pipeline(point_infos(cfg), registry=self.registry)
        self.pipeline.add_consumer(HistorianSink(self.historian))  # durable first, then visible
        self.repository, self.models = build_model(cfg, self._history_url(cfg.api.port))
        live = {pid: prop for m in self.models.values() for pid, prop in m.properties.items()}
        meta = point_meta(cfg)
        self.producers: list[Producer] = build_producers(cfg, self.historian)
        self.derived_elements: dict[str, model.SubmodelElement] = {}  # point id -> element, of every producer
        # issue 15: run lock, log-signing key, the operation ledger on the gateway's own shell, systemd notify
        self.ops = GatewayOps(cfg, self.historian)
        self.producers += self.ops.producers()
        for producer in self.producers:
            self._add_derived(producer, live, meta)
        self.pipeline.add_consumer(LiveModelSink(live))
        for producer in self.producers:  # after the historian and the live model: they see stored samples
            self.pipeline.add_consumer(producer)
        # creates nothing until a secured source connects; its refusals print a `pki trust` command naming
        # the folder and the audit file, which works as printed without this config
        self.pki = Pki(cfg.pki, audit_file=cfg.audit.path)
        context = BuildContext(gateway_id=cfg.gateway.id, pki=self.pki)
        self.sources: dict[str, Source] = {a.id_short: build_source(a, context) for a in cfg.assets}
        follow_state_changes(self.models, self.sources)
        self.audit = AuditLog(cfg.audit, self.ops.signer)
        self.ops.set_audit_head(self.audit.head)
        # only sources whose connector writes are write targets: PATCH on another's point answers 405
        targets: dict[str, object] = {a.id_short: self.sources[a.id_short] for a in cfg.assets if a.connector.writes}
        writes = write_points(cfg)
        for producer in self.producers:  # operator inputs of derived points are written through their producer
            name = f"producer:{producer.name}"
            targets[name] = producer
            for dp in producer.points():
                sm_id = submodel_id(self._aas_id(dp.asset), dp.submodel)
                writes[(sm_id, dp.path)] = WritePoint(dp.point_id, name, dp.value_type, dp.writable)
        self.writer = ValueWriter(writes, targets, self.audit)
        fw_metrics = ForwarderMetrics(self.registry)
        self.forwarders = [
            Forwarder(f.name, build_sink(f, meta, context), self.historian,
                      ForwarderSettings(f.batch_size, f.start_from, f.historical_after_s,
                                        worker_process=f.worker_process), fw_metrics)
            for f in cfg.forwarders]
        self.ops.watch(self.sources, self.forwarders)
        for f in cfg.forwarders:  # the TimeSeries submodels say where else history lives
            segment = f.connector.linked_segment
            if segment is None:
                continue
            for a in cfg.assets:
                endpoint, query = segment(f.sink, a.id_short, a.id)
                self.models[a.id_short].add_linked_segment(
                    f"Linked_{f.name.replace('-', '_').replace('.', '_')}",
                    f"History of {a.id_short} in {f.connector_name} ({f.name})",
                    endpoint, query)
        self.api: ApiServer | None = None
        self.dashboard: Dashboard | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.loop_lag = LoopLag(self.registry)
        self._g_state = Gauge("gateway_source_connected", "1 connected, 0 connecting, -1 disconnected",
                              ["asset", "endpoint"], registry=self.registry)

    def _add_derived(self, producer: Producer, live: dict[str, model.SubmodelElement],
                     meta: dict[str, PointMeta]) -> None:
        """Make a producer's derived points and submodels part of the pipeline, the model and the forwarders."""
        for dp in producer.points():
            self.pipeline.add_point(PointInfo(dp.point_id, dp.asset, dp.submodel, dp.path, dp.value_type, dp.unit))
            meta[dp.point_id] = PointMeta(dp.point_id, dp.asset, self._aas_id(dp.asset), dp.submodel, dp.path,
                                          dp.value_type, dp.unit, dp.semantic_id, dp.event)
        for dm in producer.models():
            own = self.ops.shell is not None and dm.asset == self.ops.shell.id_short  # the gateway's own shell
            shell = self.ops.shell if own else self.models[dm.asset].shell
            assert shell is not None
            if own and not shell.submodel:
                self.repository.add_shell(shell)
            for sm in dm.submodels:
                self.repository.add_submodel(sm)
                if not own:
                    self.models[dm.asset].submodels.append(sm)
                shell.submodel.add(model.ModelReference.from_referable(sm))
            live.update(dm.properties)
            self.derived_elements.update(dm.properties)

    def _aas_id(self, asset: str) -> str:
        """The AAS id of an asset's shell, or of the gateway's own shell."""
        if asset not in self.models and self.ops.shell is not None and asset == self.ops.shell.id_short:
            return self.ops.shell.id
        return self.models[asset].shell.id

    async def start(self) -> None:
        if self._started:
            return
        keep_mmap_threshold()  # RSS comes back after large requests (see the module)
        self.ops.acquire()  # a restore must not replace the data under a running gateway
        try:
            await self.historian.open()
        except BaseException:
            self.ops.release()
            raise
        try:
            await self._start_after_historian()
        except BaseException:
            # a start that fails half-way (a port in use, a bad producer) stops what it started: no task,
            # connection or lock outlives it, so the caller (or systemd) can simply try again
            self._started = True
            try:
                await self.stop()
            except Exception:  # the start's own error is the one to report
                log.exception("cleaning up after a failed start")
            raise

    async def _start_after_historian(self) -> None:
        for info in self.pipeline.points.values():
            await self.historian.register_series(info.point_id, info.value_type, info.unit)
        await self._forget_removed_forwarders()
        for fw in self.forwarders:
            self._tasks.append(asyncio.create_task(self._run_forwarder(fw), name=f"forwarder:{fw.name}"))
        for producer in self.producers:
            self._tasks.append(asyncio.create_task(self._run_producer(producer), name=f"producer:{producer.name}"))
        for name, source in self.sources.items():
            self._tasks.append(asyncio.create_task(self._run_source(name, source), name=f"source:{name}"))
        self._tasks.append(asyncio.create_task(self._watch_sources(), name="source-health"))
        self._tasks.append(asyncio.create_task(self.loop_lag.run(), name="loop-lag"))
        if self.cfg.api.enabled:
            await self._start_api()
        # what start built (config, AAS model, API) lives as long as the gateway: keep the collector off it
        self._tasks.append(asyncio.create_task(keep_frozen(), name="gc-freeze"))
        self._started = True
        watchdog = self.ops.ready(self._tasks)  # READY=1, and WATCHDOG=1 while healthy (gateway/ops/sdnotify.py)
        if watchdog is not None:
            self._tasks.append(watchdog)
        log.info("gateway %s started: %d assets, %d points, historian %s%s", self.cfg.gateway.name,
                 len(self.sources), len(self.pipeline.points), self.cfg.historian.path,
                 f", API {self.api_url}" if self.api else "")

    def _history_url(self, port: int) -> str:
        return f"{'https' if self.cfg.api.tls else 'http'}://{self.cfg.api.host}:{port}{API_BASE_PATH}"

    def _install_dashboard(self, app: Any, access: AccessPolicy) -> Dashboard:
        """The dashboard's state, its sessions known to the access middleware, its hub fed by the pipeline."""
        from gateway.api.ui_pages import mount_dashboard
        from gateway.ui.dashboard import Dashboard

        dash = Dashboard(self, access)
        access.sessions = dash.sessions
        self.pipeline.add_consumer(dash.hub)
        mount_dashboard(app, dash)
        log.info("dashboard served at / (sign-in with an API key%s)",
                 f" or through {dash.oidc.issuer}" if dash.oidc is not None else "")
        return dash

    async def _start_api(self) -> None:
        from gateway.api import create_app
        from gateway.api.admin_routes import admin_router
        from gateway.api.audit_routes import audit_router
        from gateway.api.history import historian_backend
        from gateway.api.operations import add_operations_routes
        from gateway.auth.policy import AccessPolicy

        mapping = [(submodel_id(a.id, p.submodel), p.path, point_id(a.id_short, p.submodel, p.path))
                   for a in self.cfg.assets for p in a.points]
        mapping += [(submodel_id(self._aas_id(dp.asset), dp.submodel), dp.path, dp.point_id)
                    for producer in self.producers for dp in producer.points()]
        access = AccessPolicy.from_config(self.cfg.api.auth, self.cfg.historian.path)
        app = create_app(self.repository, history=historian_backend(self.historian, mapping), writer=self.writer,
                         base_path=API_BASE_PATH, access=access, cors=self.cfg.api.cors, limits=self.cfg.api.limits)
        add_operations_routes(app, self)
        app.include_router(admin_router(pki=lambda: self.pki, keys=access.api_keys, audit=self.audit))
        app.include_router(audit_router(self.audit.path))  # the admin audit query, with or without the dashboard
        if self.cfg.api.ui.enabled:
            self.dashboard = self._install_dashboard(app, access)  # the operator's web UI at / (gateway/ui)
        log.info("REST API accepts: %s", access.describe())
        self.api = ApiServer(app, self.cfg.api.host, self.cfg.api.port, tls=self.cfg.api.tls,
                             limits=self.cfg.api.limits, http=self.cfg.api.http)
        await self.api.start()
        if access.anonymous_read:
            log.warning("api.auth.anonymous_read is on: anyone who reaches %s can read every value", self.api.base_url)
        if self.api.port != self.cfg.api.port:  # port 0: tell the TimeSeries segments where history lives
            for m in self.models.values():
                m.set_history_url(self._history_url(self.api.port))

    @property
    def api_url(self) -> str | None:
        """Base URL of the AAS API, e.g. http://127.0.0.1:8080/api/v3.0."""
        return f"{self.api.base_url}{API_BASE_PATH}" if self.api else None

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

    async def _run_producer(self, producer: Producer) -> None:
        while True:
            try:
                await producer.run(self.pipeline.publish)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("producer %s crashed; restarting it in 5 s", producer.name)
                await asyncio.sleep(5)

    async def _forget_removed_forwarders(self) -> None:
        """A cursor nobody advances would keep every sample from retention forever."""
        configured = {f.name for f in self.forwarders}
        for name, seq in (await self.historian.cursors()).items():
            if name not in configured:
                log.warning("forwarder %r is no longer configured: dropping its cursor (seq %d)", name, seq)
                await self.historian.delete_cursor(name)

    async def _run_forwarder(self, fw: Forwarder) -> None:
        while True:
            try:
                await fw.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("forwarder %s crashed; restarting it in 5 s (its cursor is safe)", fw.name)
                await asyncio.sleep(5)

    async def _watch_sources(self) -> None:
        """Once a second: source health into the status submodels and the connection gauge."""
        while True:
            refresh_status(self.models, self.sources, self.historian.counts)
            for h in self.health():
                self._g_state.labels(h.name, h.endpoint).set(_STATE_VALUES.get(h.state, 0))
            await asyncio.sleep(1)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.ops.stopping()
        if self.dashboard is not None:
            self.dashboard.close()  # its live streams would hold the API server open
        if self.api is not None:
            await self.api.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            # a task cancelled inside a TaskGroup (a source mid-session) ends with a BaseExceptionGroup of its
            # CancelledErrors: that is the cancellation we asked for, not a failure of stop()
            with contextlib.suppress(asyncio.CancelledError, Exception, BaseExceptionGroup):
                await t
        self._tasks.clear()
        await self.historian.close()
        self.pipeline.flush_log()
        # sources are stopped and the historian flushed: the model says so too
        refresh_status(self.models, self.sources, self.historian.counts)
        self.audit.close()
        self.ops.release()
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
        for producer in self.producers:  # e.g. the KPI engine's OEE of the current shift
            summary = getattr(producer, "summary", None)
            lines.extend(summary() if callable(summary) else [])
        return lines
