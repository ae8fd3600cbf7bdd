"""The operation-rate producer: runs the ledger and publishes it as the gateway's OperationRate submodel.

A derived-data Producer (gateway/derived.py) on the gateway's own shell:

- `put` feeds every sample to the ledger's completeness accounting (one dict lookup per sample);
- `run` opens the ledger (recovering a crashed run's downtime), publishes the log anchors, closes
  the days and months that ended while the gateway was down, then, every half second, writes the
  state changes of sources and forwarders; every `heartbeat_s` the heartbeat; at every UTC hour and
  local midnight the counts; at local midnight it closes the day (and month): the report's figures
  for it are published timestamped at the day's start, and the chain heads of the audit log and the
  ledger as the day's anchors (`Anchors.AuditLog`, `Anchors.Ledger`: ``"<seq>:<sha256>"``), which
  reach the historian, InfluxDB and MQTT like any reading, off the box;
- on stop it writes the final counts and the stop record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aas_models.operation import OPERATION_RATE, OperationElement, build_operation_submodel
from connectors.base import Emit, Source
from connectors.sample import Sample
from gateway.derived import DerivedModel, DerivedPoint
from gateway.ops.chain import Head
from gateway.ops.ledger import NS, Ledger
from gateway.ops.report import GATEWAY, Row, Timeline, build_timeline, load_records, periods, summarise

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.forwarder import Forwarder
    from gateway.historian import Historian

log = logging.getLogger(__name__)

BAD_NO_DATA = 0x809B0000
POLL_S = 0.5
MAX_CATCH_UP_DAYS = 400


def element_id_short(name: str) -> str:
    """A forwarder or asset name as an idShort (letters, digits, '_'; a letter first)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s[:1].isalpha() else f"F{s}"


def operation_elements(sources: Sequence[str], forwarders: Sequence[str]) -> list[OperationElement]:
    """Every Property of the OperationRate submodel for these sources (asset idShorts) and forwarders."""
    out = []
    for scope, what in (("Daily", "day"), ("Monthly", "month")):
        g = f"{scope}.Gateway"
        out += [OperationElement(f"{g}.Availability", "xs:double", None,
                                 f"Share of the {what} the gateway ran (0..1; its downtime is counted down)"),
                OperationElement(f"{g}.UpTime", "xs:double", "s", f"Seconds of the {what} the gateway ran"),
                OperationElement(f"{g}.DownTime", "xs:double", "s",
                                 f"Seconds of the {what} the gateway did not run (monitored time only)"),
                OperationElement(f"{g}.Outages", "xs:int", None, f"Times the gateway was down in the {what}")]
        for s in sources:
            out += [OperationElement(f"{scope}.Sources.{s}.Availability", "xs:double", None,
                                     f"Share of the {what} the gateway was connected to {s}"),
                    OperationElement(f"{scope}.Sources.{s}.Completeness", "xs:double", None,
                                     f"Sampling instants with a valid value / instants expected, {s}, per {what}")]
        for f in forwarders:
            out.append(OperationElement(f"{scope}.Forwarders.{element_id_short(f)}.Availability", "xs:double",
                                        None, f"Share of the {what} forwarder {f} was delivering"))
    out += [OperationElement("Anchors.AuditLog", "xs:string", None,
                             "Head of the audit log's hash chain, once a day: <seq>:<sha256>"),
            OperationElement("Anchors.Ledger", "xs:string", None,
                             "Head of the operation ledger's hash chain, once a day: <seq>:<sha256>")]
    return out


class OperationProducer:
    name = "operation"

    def __init__(self, cfg: GatewayConfig, historian: Historian, ledger: Ledger, asset: str, aas_id: str,
                 audit_head: Callable[[], Head] | None = None) -> None:
        self.cfg = cfg
        self.historian = historian
        self.ledger = ledger
        self.asset = asset
        self.aas_id = aas_id
        self.audit_head = audit_head
        self.tz = ZoneInfo(cfg.ledger.timezone)
        self.sources = [a.id_short for a in cfg.assets]
        self.forwarder_names = [f.name for f in cfg.forwarders]
        self._forwarders: Sequence[Forwarder] = []
        self._elements = operation_elements(self.sources, self.forwarder_names)
        self._points = {e.path: DerivedPoint(self.point_id(e.path), asset, OPERATION_RATE, e.path, e.value_type,
                                             e.unit) for e in self._elements}
        self._model: DerivedModel | None = None
        self.closed_days = 0

    def point_id(self, path: str) -> str:
        return f"{self.asset}/{OPERATION_RATE}/{path}"

    # --- Producer contract --------------------------------------------------------------

    def points(self) -> Sequence[DerivedPoint]:
        return list(self._points.values())

    def models(self) -> Sequence[DerivedModel]:
        if self._model is None:
            sm, props = build_operation_submodel(self.aas_id, self.asset, self._elements)
            self._model = DerivedModel(self.asset, [sm], {self.point_id(p): prop for p, prop in props.items()})
        return [self._model]

    async def put(self, samples: Sequence[Sample]) -> None:
        self.ledger.put(samples)

    def watch(self, sources: dict[str, Source], forwarders: Sequence[Forwarder]) -> None:
        """Follow the sources' state changes as they happen (chained after any callback already set) and
        the forwarders' state (polled: they have no callback)."""
        for src in sources.values():
            h = src.health()
            previous = h.on_state_change

            def changed(health: Any, previous: Any = previous) -> None:
                if previous is not None:
                    previous(health)
                self.ledger.note_source(health)

            h.on_state_change = changed
        self._forwarders = forwarders

    async def run(self, emit: Emit) -> None:
        ledger = self.ledger
        await asyncio.to_thread(ledger.open)
        try:
            await self._anchors(emit)
            await self._catch_up(emit)
            clock = ledger.clock
            next_hb = clock() + int(ledger.cfg.heartbeat_s * NS)
            next_flush = self._next_flush(clock())
            while True:
                await asyncio.sleep(POLL_S)
                for f in self._forwarders:
                    ledger.note_forwarder(f.name, f.health.state)
                states = ledger.take_states()
                if states:
                    await asyncio.to_thread(ledger.flush_sync, states)
                now = clock()
                if now >= next_flush:
                    rec = ledger.counts_record(now)
                    await asyncio.to_thread(ledger.flush_sync, [rec])
                    closing = self._day_start(next_flush)
                    if closing == next_flush:  # a local midnight: the day before it is over
                        await self._close(emit, closing - 1)
                    next_flush = self._next_flush(now)
                if now >= next_hb:
                    doc = ledger.heartbeat_doc(now)
                    await asyncio.to_thread(ledger.write_heartbeat_sync, now, False, doc)
                    next_hb = now + int(ledger.cfg.heartbeat_s * NS)
        finally:
            for f in self._forwarders:
                ledger.note_forwarder(f.name, f.health.state)
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(ledger.close_sync))

    # --- days, months and anchors -------------------------------------------------------------

    def _day_start(self, ns: int) -> int:
        _, a, _ = next(periods(ns, ns + 1, self.tz, "day"))
        return a

    def _next_flush(self, now: int) -> int:
        """The next UTC hour or local midnight after `now`, whichever comes first."""
        hour = (now // (3600 * NS) + 1) * 3600 * NS
        _, _, midnight = next(periods(now, now + 1, self.tz, "day"))
        return min(hour, midnight)

    async def _anchors(self, emit: Emit) -> None:
        """The chain heads of both logs, into the ledger (audit head) and the historian (both)."""
        now = self.ledger.clock()
        samples = []
        if self.audit_head is not None:
            audit = await asyncio.to_thread(self.audit_head)
            await asyncio.to_thread(self.ledger.append_sync, {"kind": "anchor", "log": "audit", "seq": audit.seq,
                                                              "hash": audit.hash})
            samples.append(Sample(self.point_id("Anchors.AuditLog"), f"{audit.seq}:{audit.hash}", now, None, now))
        head = await asyncio.to_thread(self.ledger.head)
        if head is not None:
            samples.append(Sample(self.point_id("Anchors.Ledger"), f"{head[0]}:{head[1]}", now, None, now))
        if samples:
            await emit(samples)

    async def _timeline(self) -> Timeline:
        now = self.ledger.clock()
        records = await asyncio.to_thread(load_records, self.ledger.paths.current)
        return build_timeline(records, now, running=True)

    async def _catch_up(self, emit: Emit) -> None:
        """Close the days and months that ended since the last one published (e.g. while the gateway was down)."""
        tl = await self._timeline()
        first = tl.first.get(GATEWAY)
        if first is None:
            return
        latest = await self.historian.latest(self.point_id("Daily.Gateway.Availability"))
        today = self._day_start(tl.now_ns)
        start = self._day_start(latest.ts) + 1 if latest is not None else first
        start = max(start, today - MAX_CATCH_UP_DAYS * 86400 * NS)
        for _, a, b in periods(start, today, self.tz, "day"):
            if b <= today:
                await self._publish(emit, tl, "day", a, b)
        latest_m = await self.historian.latest(self.point_id("Monthly.Gateway.Availability"))
        start_m = latest_m.ts + 1 if latest_m is not None else first
        for _, a, b in periods(max(start_m, start), today, self.tz, "month"):
            if b <= today:
                await self._publish(emit, tl, "month", a, b)

    async def _close(self, emit: Emit, inside_ns: int) -> None:
        """The local day holding `inside_ns` is over: publish it (and its month if that ended too)."""
        tl = await self._timeline()
        _, a, b = next(periods(inside_ns, inside_ns + 1, self.tz, "day"))
        await self._publish(emit, tl, "day", a, b)
        _, ma, mb = next(periods(inside_ns, inside_ns + 1, self.tz, "month"))
        if mb == b:
            await self._publish(emit, tl, "month", ma, mb)
        await self._anchors(emit)

    async def _publish(self, emit: Emit, tl: Timeline, unit: str, a: int, b: int) -> None:
        scope = "Daily" if unit == "day" else "Monthly"
        now = self.ledger.clock()
        label = datetime.fromtimestamp(a / NS, self.tz).date().isoformat()
        out: list[Sample] = []

        def put(path: str, value: Any) -> None:
            pid = self.point_id(path)
            if value is None:
                out.append(Sample(pid, None, a, None, now, BAD_NO_DATA))
            else:
                out.append(Sample(pid, value, a, None, now))

        g: Row = summarise(tl, GATEWAY, unit, label, a, b)
        put(f"{scope}.Gateway.Availability", g.availability)
        put(f"{scope}.Gateway.UpTime", round(g.up_s, 3) if g.monitored_s else None)
        put(f"{scope}.Gateway.DownTime", round(g.down_s, 3) if g.monitored_s else None)
        put(f"{scope}.Gateway.Outages", g.outages if g.monitored_s else None)
        for s in self.sources:
            r = summarise(tl, f"source:{s}", unit, label, a, b)
            put(f"{scope}.Sources.{s}.Availability", r.availability)
            put(f"{scope}.Sources.{s}.Completeness", r.completeness)
        for f in self.forwarder_names:
            r = summarise(tl, f"forwarder:{f}", unit, label, a, b)
            put(f"{scope}.Forwarders.{element_id_short(f)}.Availability", r.availability)
        await emit(out)
        if unit == "day":
            self.closed_days += 1
        log.info("operation ledger: %s %s closed: gateway availability %s", unit, label,
                 "-" if g.availability is None else f"{g.availability * 100:.3f} %")
