"""The KPI engine of one asset: a pure function of its input samples, the calendar and the config.

`feed` takes one sample at a time, in each point's own sample order (any interleaving of
different points gives the same result, see `series`). `totals(window, until)` sweeps what is
known of a window; `due(watermark)` lists the windows that are complete. The engine does no I/O
and reads no clock: the producer (live) and the recompute (historian) drive it the same way, so
a closed period is the same numbers either way.

Inputs per asset (point ids, see `EngineInputs`): the state (mapped, or MachineryItemState and
MachineryOperationMode), the operator inputs (operation mode, downtime reason, order, planned
quantity), counters, the ideal cycle time point, the energy register, and the gateway's restart
marker: the time it was last alive before it started, whose gap is unknown time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sample import datetime_to_ns
from connectors.status import BAD_MASK
from gateway.kpi import categories as cat
from gateway.kpi.accounting import account, value_at
from gateway.kpi.calendar import ProductionCalendar, Window
from gateway.kpi.config import KpiConfig
from gateway.kpi.counters import CounterTrack
from gateway.kpi.formulas import NS, Totals
from gateway.kpi.series import Events, Register, Steps
from gateway.kpi.timing import effective_ts, too_far_ahead

KINDS = ("shift", "hour", "day")
ROLES = ("produced", "good", "scrap", "rework")


@dataclass(frozen=True)
class EngineInputs:
    state: str  # mapped state point, or the MachineryItemState point
    machine_mode: str | None  # MachineryOperationMode point (opc40001 preset, if the machine has one)
    operator_mode: str
    reason: str
    order_id: str
    planned_quantity: str
    restart: str
    counters: dict[str, str] = field(default_factory=dict)  # role -> point id
    pru: str | None = None
    energy: str | None = None

    def all(self) -> set[str]:
        pts = {self.state, self.operator_mode, self.reason, self.order_id, self.planned_quantity, self.restart,
               *self.counters.values()}
        pts.update(p for p in (self.machine_mode, self.pru, self.energy) if p)
        return pts


@dataclass
class OrderStatus:
    order_id: str
    start: int
    planned: float | None
    produced: float
    good: float
    progress: float | None
    expected_completion: int | None  # ns
    execution_s: float


class AssetEngine:
    def __init__(self, cfg: KpiConfig, calendar: ProductionCalendar, inputs: EngineInputs,
                 moduli: dict[str, int | None] | None = None) -> None:
        self.cfg = cfg
        self.calendar = calendar
        self.inputs = inputs
        self.classifier = cat.Classifier(cfg.state)
        self.grace_ns = int(cfg.grace_s * NS)
        self.skew_ns = int(cfg.max_clock_skew_s * NS)
        self.res = cfg.energy_resolution_kwh
        self._n = 0
        self.state = Steps()
        self.machine_mode = Steps() if inputs.machine_mode else None
        self.operator_mode = Steps()
        self.reason = Steps()
        self.order_id = Steps()
        self.planned_quantity = Steps()
        self.pru = Steps() if inputs.pru else None
        self.events = {role: Events() for role in inputs.counters}
        self.tracks = {role: CounterTrack((moduli or {}).get(role)) for role in inputs.counters}
        self.register = Register() if inputs.energy else None
        self.restarts: list[tuple[int, int, int]] = []  # (last alive, eff, received)
        self.skipped_ahead = 0  # samples ignored: stamped more than max_clock_skew ahead of their arrival
        self.horizon: int | None = None  # nothing before this is kept (the earliest open period's start)
        # good/produced of orders folded in from pruned counter events: (order start, order id) -> role -> sum
        self._order_folded: dict[tuple[int, str], dict[str, float]] = {}
        roles = {v: k for k, v in inputs.counters.items()}
        self._route: dict[str, tuple[str, Any]] = {}
        for pid, kind, target in ((inputs.state, "step", self.state), (inputs.machine_mode, "step", self.machine_mode),
                                  (inputs.operator_mode, "step", self.operator_mode),
                                  (inputs.reason, "step", self.reason), (inputs.order_id, "step", self.order_id),
                                  (inputs.planned_quantity, "step", self.planned_quantity),
                                  (inputs.pru, "step", self.pru), (inputs.energy, "energy", self.register),
                                  (inputs.restart, "restart", None)):
            if pid:
                self._route[pid] = (kind, target)
        for pid, role in roles.items():
            self._route[pid] = ("counter", role)

    # --- input ------------------------------------------------------------------------

    def feed(self, point: str, value: Any, status: int, ts: int, received: int) -> None:
        route = self._route.get(point)
        if route is None:
            return
        if too_far_ahead(ts, received, self.skew_ns):
            self.skipped_ahead += 1
            return
        eff = effective_ts(ts, received, self.grace_ns)
        self._n += 1
        n = self._n
        kind, target = route
        bad = status & BAD_MASK or value is None
        if kind == "step":
            target.add(eff, n, cat.BAD if bad else value, received)
        elif kind == "counter":
            if bad:
                return
            try:
                v = float(value)
            except (TypeError, ValueError):
                return
            d = self.tracks[target].update(v)
            if d:
                self.events[target].add(eff, n, d)
        elif kind == "energy":
            if bad:
                return
            try:
                units = round(float(value) / self.res)
            except (TypeError, ValueError, OverflowError):
                return
            target.add(eff, n, units)
        elif kind == "restart" and not bad:
            last_alive = parse_ns(value)
            if last_alive is not None and last_alive < eff:
                self.restarts.append((last_alive, eff, received))
                self.restarts.sort()

    def feed_rows(self, point: str, rows: list[tuple[int, int, Any, int, int]]) -> None:
        """`feed` for many (seq, ts, value, status, received) rows of one point in seq order (the recompute):
        the same rule per row, with the per-point dispatch done once."""
        route = self._route.get(point)
        if route is None:
            return
        kind, target = route
        if kind not in ("counter", "energy"):
            for _, ts, value, status, received in rows:
                self.feed(point, value, status, ts, received)
            return
        g, skew, n = self.grace_ns, self.skew_ns, self._n
        if kind == "counter":
            track, events = self.tracks[target], self.events[target]
            for _, ts, value, status, received in rows:
                n += 1
                if ts - received > skew:
                    self.skipped_ahead += 1
                    continue
                if status & BAD_MASK or value is None:
                    continue
                try:
                    v = float(value)
                except (TypeError, ValueError):
                    continue  # as `feed`: no number, no baseline
                d = track.update(v)
                if d:
                    lo = received - g
                    events.add(received if ts > received else (ts if ts > lo else lo), n, d)
        else:
            res = self.res
            for _, ts, value, status, received in rows:
                n += 1
                if ts - received > skew:
                    self.skipped_ahead += 1
                    continue
                if status & BAD_MASK or value is None:
                    continue
                try:
                    units = round(float(value) / res)
                except (TypeError, ValueError, OverflowError):
                    continue  # as `feed`
                lo = received - g
                target.add(received if ts > received else (ts if ts > lo else lo), n, units)
        self._n = n

    # --- output -----------------------------------------------------------------------

    def _unknown_intervals(self) -> list[tuple[int, int]]:
        """The gateway's own downtime: from last alive until the state is read again after the restart."""
        out = []
        for last_alive, eff, received in self.restarts:
            end = None
            for item in self.state.items:  # (eff, n, value, received), by eff: the first one is the earliest
                if item[3] >= received:
                    end = item[0]
                    break
            # unknown at least until the restart itself, and until the state has been read again
            end = max(end, eff) if end is not None else 2**62
            if end > last_alive:
                out.append((last_alive, end))
        return out

    def _classify(self, t: int) -> str:
        return self.classifier.classify(self.state.at(t), value_at(self.machine_mode, t),
                                        self.operator_mode.at(t))

    def totals(self, window: Window, until: int) -> Totals:
        end = min(window.end, until)
        t = Totals(window.start, max(window.start, end))
        steps = [s for s in (self.state, self.machine_mode, self.operator_mode) if s is not None]
        account(t, self.calendar.planned(t.start, t.end), steps, self._classify, self._unknown_intervals(),
                self.reason)
        self._quantities(t)
        if self.register is not None:
            t.energy_kwh = self._energy(t.start, t.end)
        t.pru_s = self._pru_at(t.end)
        return t

    def _pru_at(self, t: int) -> float | None:
        if self.pru is None:
            return self.cfg.ideal_cycle_time_s
        v = self.pru.at(t)
        try:
            return float(v) if v is not None and v is not cat.BAD else None
        except (TypeError, ValueError):
            return None

    def _quantities(self, t: Totals) -> None:
        sums = {role: 0.0 for role in ROLES}
        pq_events: list[tuple[int, int, float]] = []
        for role, ev in self.events.items():
            items = ev.between(t.start, t.end)
            sums[role] = float(sum(d for _, _, d in items))
            if role == "produced" or ("produced" not in self.events and role in ("good", "scrap", "rework")):
                pq_events.extend(items)
        t.good = sums["good"] if "good" in self.events else \
            max(0.0, sums["produced"] - sums["scrap"] - sums["rework"])
        t.produced = sums["produced"] if "produced" in self.events else sums["good"] + sums["scrap"] + sums["rework"]
        t.scrap, t.rework = sums["scrap"], sums["rework"]
        # parts per planned runtime per item, each sum times its PRU once: the same number whether the
        # parts come one event per sample (live) or one per hour (the recompute's fast path, see bulk)
        parts: dict[float, float] = {}
        for eff, _, d in pq_events:
            pru = self._pru_at(eff)
            if pru is not None:
                parts[pru] = parts.get(pru, 0.0) + d
        t.planned_production_ns = sum(n * pru * NS for pru, n in parts.items())

    def _energy(self, a: int, b: int) -> float | None:
        reg = self.register
        assert reg is not None
        end = reg.value_before(b)
        if end is None:
            return None
        start = reg.value_before(a)
        if start is None:
            start = reg.first_from(a)
        if start is None:
            return None
        units = end - start if end >= start else end  # a register that was reset counted `end` since
        return units * self.res

    def order(self, until: int) -> OrderStatus | None:
        entry = self.order_id.entry_at(until)
        if entry is None or entry[2] in (None, "", cat.BAD):
            return None
        start, oid = entry[0], str(entry[2])
        folded = self._order_folded.get((start, oid), {})
        counts = {role: folded.get(role, 0.0) + float(sum(d for _, _, d in ev.between(start, until + 1)))
                  for role, ev in self.events.items()}
        produced = counts.get("produced",
                              counts.get("good", 0.0) + counts.get("scrap", 0.0) + counts.get("rework", 0.0))
        good = counts.get("good", max(0.0, produced - counts.get("scrap", 0.0) - counts.get("rework", 0.0)))
        pq = self.planned_quantity.at(until)
        planned = None
        if pq not in (None, cat.BAD):
            try:
                planned = float(pq)
            except (TypeError, ValueError):
                planned = None
        progress = good / planned if planned else None
        elapsed = until - start
        expected = None
        if planned and good > 0 and elapsed > 0:
            remaining = max(0.0, planned - good)
            expected = until + int(remaining * elapsed / good)
        return OrderStatus(oid, start, planned, produced, good, progress, expected, elapsed / NS)

    # --- periods ----------------------------------------------------------------------

    def open_windows(self, now: int) -> list[Window]:
        """The current shift (if any), hour and day at `now`."""
        return [w for k in KINDS if (w := self.calendar.window_at(k, now)) is not None]

    def prune(self, horizon: int) -> None:
        """Forget what no window from `horizon` on needs (the state in force at it stays)."""
        if self.horizon is not None and horizon <= self.horizon:
            return
        self.horizon = horizon
        # counter events leave the window sums; the order they belong to keeps them
        for role, ev in self.events.items():
            for eff, _, d in ev.take_before(horizon):
                entry = self.order_id.entry_at(eff)
                if entry is None or entry[2] in (None, "", cat.BAD):
                    continue
                key = (entry[0], str(entry[2]))
                self._order_folded.setdefault(key, {}).setdefault(role, 0.0)
                self._order_folded[key][role] += d
        current = self.order_id.entry_at(horizon)
        self._order_folded = {k: v for k, v in self._order_folded.items()
                              if current is not None and k == (current[0], str(current[2]))}
        keep_from = min([horizon, *(la for la, _, _ in self.restarts)])
        for s in (self.state, self.machine_mode, self.operator_mode, self.reason, self.planned_quantity, self.pru):
            if s is not None:
                s.prune(keep_from)
        # the order in force keeps its start entry
        self.order_id.prune(horizon)
        if self.register is not None:
            self.register.prune(horizon)
        self.restarts = [r for r in self.restarts if r[1] >= horizon - 86400 * NS]

    def feed_many(self, samples: Iterable[tuple[str, Any, int, int, int]]) -> None:
        for point, value, status, ts, received in samples:
            self.feed(point, value, status, ts, received)


def parse_ns(v: Any) -> int | None:
    """A stored time (epoch ns, a datetime or xs:dateTime text, naive = UTC) as epoch ns; None if it is none."""
    if isinstance(v, int):
        return v
    if isinstance(v, datetime):
        return datetime_to_ns(v)
    if isinstance(v, str):
        try:
            return datetime_to_ns(datetime.fromisoformat(v.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None
