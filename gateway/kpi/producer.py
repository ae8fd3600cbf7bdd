"""The live KPI producer: one engine per asset with a `kpi:` block, wired in as a derived-data Producer.

- `put` feeds every input sample the pipeline routes to the engines (a dict lookup per sample).
- `run` first rebuilds the engines from the historian (since the start of the open periods, or of
  the current order), records the gateway's own downtime as a `GatewayDownSince` sample, then every
  `update_interval_s` publishes the current shift (ProductionKPIs/CurrentShift, the PVM
  currentValues, the order) and closes the periods that ended `grace_s` (+2 s) ago: their values
  go to LastShift / LastHour / LastDay once, timestamped at the period's *start*, so the history
  route of e.g. `LastShift.OEE` lists shifts by their start time. Periods that ended while the
  gateway was down are closed (from the historian) at the next start; closed ones are not re-sent.
- `write` takes the operator/MES inputs (operation mode, downtime reason, order, planned quantity)
  and publishes them as samples: durable, with history, and fed back to the engine like any input.

Undefined values (a ratio over nothing, e.g. OEE of a shift without production time) are published
as status BadNoData (0x809B0000): visible as such, never as a made-up 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aas_models import ids
from aas_models.datatypes import seconds_to_duration
from aas_models.kpi import KPI_ID_SHORT, build_kpi_submodel
from aas_models.pvm import build_pvm
from connectors.base import Emit, WriteError
from connectors.sample import Sample, now_ns, ns_to_iso
from gateway.config import GatewayConfig
from gateway.derived import DerivedModel, DerivedPoint, register_factory
from gateway.historian import Historian, split_point_id
from gateway.kpi.asset import AssetKpi, asset_kpis
from gateway.kpi.calendar import Window
from gateway.kpi.config import OPERATION_MODES
from gateway.kpi.engine import KINDS, AssetEngine, parse_ns
from gateway.kpi.formulas import NS, Totals, kpis
from gateway.kpi.recompute import feed_from_historian, order_start

log = logging.getLogger(__name__)

BAD_NO_DATA = 0x809B0000
SETTLE_NS = 2 * NS  # after end + grace: samples still in the pipeline reach the engine
LAST = {"shift": "LastShift", "hour": "LastHour", "day": "LastDay"}
_LOG_EVERY_S = 300.0


def _iso(ns: int) -> str:
    return ns_to_iso(ns)


class _AssetState:
    """The live side of one asset: its engine and what was published."""

    def __init__(self, kpi: AssetKpi) -> None:
        self.kpi = kpi
        self.engine: AssetEngine = kpi.engine()
        self.closed_until: dict[str, int] = {}  # kind -> end of the last closed window
        self.sent: dict[str, Any] = {}  # point -> last published current value
        self.ready = False
        self.buffer: list[Sample] = []  # samples that arrived while the historian was replayed


class KpiProducer:
    name = "kpi"

    def __init__(self, cfg: GatewayConfig, historian: Historian, clock: Callable[[], int] = now_ns) -> None:
        self.cfg = cfg
        self.historian = historian
        self.clock = clock
        self.assets = [_AssetState(k) for k in asset_kpis(cfg)]
        self._routes: dict[str, list[_AssetState]] = {}
        for a in self.assets:
            for pid in a.engine.inputs.all():
                self._routes.setdefault(pid, []).append(a)
        self._inputs = {a.kpi.kpi_point(p): (a, p) for a in self.assets
                        for p in ("OperatorInputs.OperationMode", "OperatorInputs.DowntimeReason", "Order.OrderId",
                                  "Order.PlannedQuantity")}
        self._emit: Emit | None = None
        self.interval_s = min((a.kpi.cfg.update_interval_s for a in self.assets), default=10.0)
        self._last_log = 0.0
        self._models: list[DerivedModel] | None = None

    # --- Producer contract --------------------------------------------------------------

    def points(self) -> Sequence[DerivedPoint]:
        return [p for a in self.assets for p in a.kpi.points()]

    def models(self) -> Sequence[DerivedModel]:
        if self._models is None:
            out = []
            for a in self.assets:
                k = a.kpi
                pvm, pvm_props = build_pvm(k.aas_id, k.pvm_points)
                sm, props = build_kpi_submodel(k.aas_id, k.asset, [(p, k.kpi_elements[p]) for p in k.kpi_points])
                live = {k.pvm_points[v].point_id: prop for v, prop in pvm_props.items()}
                live.update({k.kpi_points[p].point_id: prop for p, prop in props.items()})
                out.append(DerivedModel(k.asset, [pvm, sm], live))
            self._models = out
        return self._models

    async def put(self, samples: Sequence[Sample]) -> None:
        routes = self._routes
        for s in samples:
            targets = routes.get(s.point)
            if targets is None:
                continue
            for a in targets:
                if not a.ready:
                    a.buffer.append(s)
                else:
                    a.engine.feed(s.point, s.value, s.status, s.ts, s.received_ts)

    async def write(self, point_id: str, value: object, value_type: str) -> None:
        target = self._inputs.get(point_id)
        if target is None:
            raise WriteError("BadNotWritable", f"{point_id} is not an operator input")
        if target[1] == "OperatorInputs.OperationMode" and value not in OPERATION_MODES:
            raise WriteError("BadOutOfRange", f"operation mode must be one of {', '.join(OPERATION_MODES)}")
        if target[1] == "Order.PlannedQuantity" and (not isinstance(value, int | float) or value < 0):
            raise WriteError("BadOutOfRange", "the planned quantity cannot be negative")
        if self._emit is None:
            raise WriteError("BadNotConnected", "the KPI engine is starting; try again in a moment")
        now = self.clock()
        await self._emit([Sample(point_id, value, now, None, now)])

    async def run(self, emit: Emit) -> None:
        await self.start(emit)
        while True:
            samples = self.step(self.clock())
            if samples:
                await emit(samples)
            await asyncio.sleep(self.interval_s)

    # --- start: rebuild from the historian ----------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Rebuild every engine from the historian; then writes are accepted and `step` publishes."""
        start = self.clock()
        for a in self.assets:
            await self._restore(a, start, emit)
        self._emit = emit

    async def _restore(self, a: _AssetState, start: int, emit: Emit) -> None:
        """Replay the historian into a fresh engine, then record the gateway's downtime before `start`."""
        eng = a.engine
        last_alive = await self._last_alive(start)
        for kind in KINDS:
            current = eng.calendar.window_at(kind, start)
            a.closed_until[kind] = current.start if current is not None else start
            last_end = await self._last_closed(a, kind)
            if last_end is not None and start - 7 * 86400 * NS <= last_end < a.closed_until[kind]:
                a.closed_until[kind] = last_end  # periods that ended while the gateway was down: close them now
        horizon = min(a.closed_until.values())
        counters_from = await order_start(a.kpi, self.historian, start)
        n = await feed_from_historian(eng, self.historian, horizon, start,
                                      counters_from=min(horizon, counters_from) if counters_from else None,
                                      received_before=start)
        marker = []
        if last_alive is not None and last_alive < start:
            marker = [Sample(a.kpi.kpi_point("Engine.GatewayDownSince"), _iso(last_alive), start, None, start)]
        a.ready = True
        for s in a.buffer:
            eng.feed(s.point, s.value, s.status, s.ts, s.received_ts)
        a.buffer.clear()
        if marker:
            await emit(marker)  # fed back to the engine through put, and stored: the recompute sees it too
        log.info("KPI %s: replayed %d samples since %s; periods closed up to %s", a.kpi.asset, n, _iso(horizon),
                 ", ".join(f"{k} {_iso(v)}" for k, v in a.closed_until.items()))

    async def _last_alive(self, before: int) -> int | None:
        """When the gateway last stored something: the receive time of the newest sample."""
        top = await self.historian.max_seq()
        if top == 0:
            return None
        records = await self.historian.read_records(top - 1, 1)
        return min(records[0].sample.received_ts, before) if records else None

    async def _last_closed(self, a: _AssetState, kind: str) -> int | None:
        asset, submodel, path = split_point_id(a.kpi.kpi_point(f"{LAST[kind]}.PeriodEnd"))
        rows = await self.historian.query(asset, submodel, path, limit=1, descending=True)
        if not rows or rows[0].value is None:
            return None
        return parse_ns(rows[0].value)

    # --- every interval -------------------------------------------------------------------

    def step(self, now: int) -> list[Sample]:
        """Close what is due and publish the current shift; the samples to emit."""
        out: list[Sample] = []
        for a in self.assets:
            if not a.ready:
                continue
            eng = a.engine
            watermark = now - eng.grace_ns - SETTLE_NS
            for kind in KINDS:
                for w in eng.calendar.windows(kind, a.closed_until[kind], max(a.closed_until[kind], watermark)):
                    if w.start < a.closed_until[kind] or w.end > watermark:
                        continue
                    out.extend(self._closed(a, w, eng.totals(w, w.end), now))
                    a.closed_until[kind] = w.end
            out.extend(self._current(a, now))
            eng.prune(self._horizon(a, now))
        self._report(now)
        return out

    @staticmethod
    def _horizon(a: _AssetState, now: int) -> int:
        """Start of the earliest window not closed yet: nothing before it is needed any more."""
        starts = [now]
        for kind, until in a.closed_until.items():
            pending = [w.start for w in a.engine.calendar.windows(kind, until, now + 1) if w.start >= until]
            if pending:
                starts.append(pending[0])
        return min(starts)

    def _closed(self, a: _AssetState, w: Window, t: Totals, now: int) -> list[Sample]:
        group = LAST[w.kind]
        values = kpis(t)
        out = [Sample(a.kpi.kpi_point(f"{group}.Name"), w.label, w.start, None, now),
               Sample(a.kpi.kpi_point(f"{group}.PeriodStart"), _iso(w.start), w.start, None, now),
               Sample(a.kpi.kpi_point(f"{group}.PeriodEnd"), _iso(w.end), w.start, None, now)]
        out.extend(_sample(a.kpi.kpi_point(f"{group}.{name}"), values.get(name), w.start, now)
                   for name in _KPI_NAMES)
        return out

    def _current(self, a: _AssetState, now: int) -> list[Sample]:
        eng = a.engine
        shift = eng.calendar.window_at("shift", now)
        cand: dict[str, Any] = {}
        if shift is not None:
            t = eng.totals(shift, now)
            values = kpis(t)
            cand[a.kpi.kpi_point("CurrentShift.Name")] = shift.label
            cand[a.kpi.kpi_point("CurrentShift.PeriodStart")] = _iso(shift.start)
            cand[a.kpi.kpi_point("CurrentShift.PeriodEnd")] = _iso(t.end)
            for name in _KPI_NAMES:
                cand[a.kpi.kpi_point(f"CurrentShift.{name}")] = values.get(name)
            for var, dp in a.kpi.pvm_points.items():
                v = values.get(var)
                # times to the second, as xs:duration
                cand[dp.point_id] = seconds_to_duration(round(v)) if dp.value_type == "xs:duration" and v is not None \
                    else v
        order = eng.order(now)
        if order is not None:
            cand[a.kpi.kpi_point("Order.Start")] = _iso(order.start)
            cand[a.kpi.kpi_point("Order.ProducedQuantity")] = order.produced
            cand[a.kpi.kpi_point("Order.GoodQuantity")] = order.good
            cand[a.kpi.kpi_point("Order.Progress")] = order.progress
            cand[a.kpi.kpi_point("Order.ExpectedCompletion")] = \
                _iso(order.expected_completion) if order.expected_completion is not None else None
            cand[a.kpi.kpi_point("Order.ExecutionTime")] = round(order.execution_s, 3)
            aoet = a.kpi.pvm_points.get("ActualOrderExecutionTime")
            if aoet is not None:  # the PVM's AOET is the order's, when an order runs
                cand[aoet.point_id] = seconds_to_duration(round(order.execution_s))
        out = []
        for pid, v in cand.items():
            if pid in a.sent and a.sent[pid] == v:
                continue
            a.sent[pid] = v
            out.append(_sample(pid, v, now, now))
        return out

    def _report(self, now: int) -> None:
        mono = time.monotonic()
        if mono - self._last_log < _LOG_EVERY_S:
            return
        self._last_log = mono
        for a in self.assets:
            c = a.engine.classifier
            if c.unmapped:
                log.warning("KPI %s: state values not in kpi.state.map (counted as %s): %s", a.kpi.asset,
                            a.kpi.cfg.state.default, ", ".join(sorted(c.unmapped)[:20]))
            if a.engine.skipped_ahead:
                log.warning("KPI %s: %d samples ignored: their source time is more than %.0f s ahead of their "
                            "arrival (check the machine's clock)", a.kpi.asset, a.engine.skipped_ahead,
                            a.kpi.cfg.max_clock_skew_s)

    # --- for the demo and tests -----------------------------------------------------------

    def summary(self, now: int | None = None) -> list[str]:
        """One line per asset: the current shift's OEE and its factors."""
        now = now if now is not None else self.clock()
        lines = []
        for a in self.assets:
            shift = a.engine.calendar.window_at("shift", now)
            if shift is None:
                lines.append(f"{a.kpi.asset:<10} no shift planned now")
                continue
            v = kpis(a.engine.totals(shift, now))
            lines.append(f"{a.kpi.asset:<10} {shift.label}: OEE {_pct(v['OEE'])} = A {_pct(v['Availability'])} x "
                         f"E {_pct(v['Effectiveness'])} x Q {_pct(v['QualityRatio'])}  "
                         f"good {v['GoodQuantity']:.0f} scrap {v['ScrapQuantity']:.0f}  "
                         f"down {v['ActualUnitDownTime']:.0f} s unknown {v['UnknownTime']:.0f} s")
        return lines


_KPI_NAMES = [n for n in (
    "Availability", "Effectiveness", "QualityRatio", "OEE", "NEE", "UtilizationEfficiency", "AllocationEfficiency",
    "TechnicalEfficiency", "SetupRate", "ThroughputRate", "ScrapRatio", "ReworkRatio", "MTBF", "MTTR",
    "DownPeriods", "EnergyConsumption", "EnergyPerGoodPart", "Coverage", "PlannedBusyTime", "ActualProductionTime",
    "ActualUnitSetupTime", "ActualUnitDelayTime", "ActualUnitDownTime", "UnknownTime", "ProducedQuantity",
    "GoodQuantity", "ScrapQuantity", "ReworkQuantity")]


def _sample(pid: str, value: Any, ts: int, now: int) -> Sample:
    if value is None:
        return Sample(pid, None, ts, None, now, BAD_NO_DATA)
    return Sample(pid, value, ts, None, now)


def _pct(v: float | None) -> str:
    return "  -  " if v is None else f"{100 * v:5.1f}%"


@register_factory
def kpi_factory(cfg: GatewayConfig, historian: Historian) -> list[KpiProducer]:
    """One producer for all assets with a `kpi:` block (none without)."""
    if not any(a.kpi is not None for a in cfg.assets):
        return []
    return [KpiProducer(cfg, historian)]


__all__ = ["KPI_ID_SHORT", "KpiProducer", "ids", "kpi_factory"]
