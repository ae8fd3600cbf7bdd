"""The detection producer: the engines of all watched assets plugged into the gateway (gateway/derived.py).

It sees every sample the pipeline routes (`put`), ticks the engines once per `tick_s` on the wall
clock and publishes what they derive (scores, alarm states and events, scrap predictions, remaining
life) as samples of derived points: stored, forwarded and served like machine readings. An operator
acknowledges an alarm by writing `true` to its `Acknowledged` Property; the API's write path checks
the role and audits the write, then calls `write` here.

The learned state is loaded when the gateway is built (before the first sample can arrive) and
saved every `save_interval_s` and at stop (state.py), so a restart needs no new learning window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from basyx.aas import model

from aas_models import detection as dm
from connectors.base import Emit, WriteError
from connectors.sample import Sample, now_ns, ns_to_datetime
from gateway.config import GatewayConfig
from gateway.derived import DerivedModel, DerivedPoint, Producer, register_factory
from gateway.detect import state
from gateway.detect.engine import AssetEngine
from gateway.historian import Historian

log = logging.getLogger(__name__)

NS = 1_000_000_000


class DetectionProducer:
    name = "detect"

    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg.detection
        assets = {a.id_short: a for a in cfg.assets}
        self.engines = {d.asset: AssetEngine(assets[d.asset], d, self.cfg) for d in self.cfg.assets}
        self._routes: dict[str, list[AssetEngine]] = {}
        for eng in self.engines.values():
            for pid in eng.routes():
                self._routes.setdefault(pid, []).append(eng)
        self.state_path = self.cfg.resolved_state_path(cfg.historian.path)
        # where alarm events are published, if a forwarder's connector publishes events (MQTT)
        events = next(((f.sink, f.connector.events_topic) for f in cfg.forwarders if f.connector.events_topic), None)
        self._models: list[DerivedModel] = []
        self._events: dict[str, model.BasicEventElement] = {}  # Event point id -> its element
        self._intervals: dict[str, tuple[model.Range, str]] = {}  # DurationLow/High point id -> (Range, "min"|"max")
        for asset_name, eng in self.engines.items():
            aas_id = assets[asset_name].id
            out = dm.DetectionModels()
            alarms, quality, ruls = eng.model_specs()
            dm.anomaly_submodel(aas_id, alarms, events[1](events[0], asset_name) if events else None, out)
            if quality:
                dm.quality_submodel(aas_id, out)
            for r in ruls:
                dm.pdm_submodel(aas_id, r, out)
                sm = dm.PDM_PREFIX + r.name
                self._intervals[eng.out_id(sm, dm.PDM_VALUES["DurationLow"][0])] = (out.intervals[r.name], "min")
                self._intervals[eng.out_id(sm, dm.PDM_VALUES["DurationHigh"][0])] = (out.intervals[r.name], "max")
            for name, event in out.events.items():
                self._events[eng.alarm_point(name, "Event")] = event
            props = {eng.out_id(sm, path): prop for (sm, path), prop in out.properties.items()}
            self._models.append(DerivedModel(asset_name, out.submodels, props))
        self._points = [p for eng in self.engines.values() for p in eng.points()]
        self._emit: Emit | None = None
        self._restore()

    # --- Producer ------------------------------------------------------------------------------------------
    def points(self) -> Sequence[DerivedPoint]:
        return self._points

    def models(self) -> Sequence[DerivedModel]:
        return self._models

    async def put(self, samples: Sequence[Sample]) -> None:
        routes = self._routes
        for s in samples:
            engines = routes.get(s.point)
            if engines:
                for eng in engines:
                    eng.observe(s)

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        tick_ns = int(self.cfg.tick_s * NS)
        next_save = time.monotonic() + self.cfg.save_interval_s
        now = now_ns()
        await self._publish([s for eng in self.engines.values() for s in eng.initial(now)])
        try:
            while True:
                now = now_ns()
                await asyncio.sleep((tick_ns - now % tick_ns) / NS)  # on the tick grid: the same second every run
                now = now_ns()
                out: list[Sample] = []
                for eng in self.engines.values():
                    out.extend(eng.tick(now))
                await self._publish(out)
                if time.monotonic() >= next_save:
                    next_save = time.monotonic() + self.cfg.save_interval_s
                    await self._save_async()
        finally:
            self._emit = None
            with contextlib.suppress(Exception):
                self.save()  # at stop: synchronous, the loop is shutting this task down anyway

    async def write(self, point_id: str, value: object, value_type: str) -> None:
        asset = point_id.split("/", 1)[0]
        eng = self.engines.get(asset)
        if eng is None or not point_id.endswith(".Acknowledged"):
            raise WriteError("BadNotWritable", f"{point_id} is not an operator input")
        out = eng.acknowledge(point_id, value, now_ns())
        log.info("alarm %s acknowledged", point_id.removesuffix(".Acknowledged"))
        await self._publish(out)

    # --- output --------------------------------------------------------------------------------------------
    async def _publish(self, out: list[Sample]) -> None:
        if not out:
            return
        for s in out:  # what the model shows beyond the Properties the pipeline updates
            event = self._events.get(s.point)
            if event is not None:
                event.last_update = ns_to_datetime(s.ts)
                continue
            interval = self._intervals.get(s.point)
            if interval is not None:
                setattr(interval[0], interval[1], float(s.value))
        if self._emit is not None:
            await self._emit(out)

    # --- state ---------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        saved = state.load(self.state_path)
        if saved is None:
            return
        restored = 0
        for name, eng in self.engines.items():
            snap = saved.get(name)
            if snap is None:
                continue
            problems = eng.restore(snap)
            restored += 1
            for p in problems:
                log.warning("detector state of %s: %s; that part learns afresh", name, p)
        log.info("detector state restored from %s (%d of %d assets)", self.state_path, restored, len(self.engines))

    def snapshot(self) -> dict[str, Any]:
        return {name: eng.snapshot() for name, eng in self.engines.items()}

    def save(self) -> None:
        size = state.save(self.state_path, self.snapshot(), now_ns())
        log.debug("detector state saved to %s (%d bytes)", self.state_path, size)

    async def _save_async(self) -> None:
        snap = self.snapshot()  # on the loop: consistent with what the engines hold
        try:
            await asyncio.to_thread(state.save, self.state_path, snap, now_ns())
        except OSError as e:
            log.warning("could not save the detector state to %s: %s (kept in memory, retried at the next save)",
                        self.state_path, e)


def detection_producers(cfg: GatewayConfig, _historian: Historian) -> list[Producer]:
    if not cfg.detection.enabled or not cfg.detection.assets:
        return []
    return [DetectionProducer(cfg)]


register_factory(detection_producers)
