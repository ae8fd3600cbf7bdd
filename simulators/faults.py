"""Labelled fault injection: what goes wrong with a machine, when, and a record of it to score detection.

A detector can only be measured against faults whose start, end and kind are known. A `FaultPlan`
holds such faults for one machine in simulated seconds; the machine consults it while stepping:

- sensor faults change only what the sensor reports (the physics goes on underneath): ``step``
  (a constant offset), ``drift`` (an offset growing at a rate), ``stuck`` (the value stops
  changing), ``spike`` (one wild reading);
- process faults change the physics itself (hooks in the machine models): ``heater_failure`` (a
  barrel heater band of the moulding machine stops heating, the zone cools), ``bearing`` (the CNC
  spindle's vibration grows exponentially, as a damaged bearing does), ``scrap_window`` (a process
  variable of the moulding machine leaves its window, which raises the scrap rate).

Everything here is a function of (plan, simulated time), and the plan's own random numbers come
from a generator seeded separately from the machine's, so adding a plan never changes the
machine's noise sequence: the same seed gives the same run with or without faults, except where a
fault acts. `random_plan` draws a plan from a seed; `write_labels` writes the labels file the
benchmark scores against.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

FaultKind = Literal["step", "drift", "stuck", "spike", "heater_failure", "bearing", "scrap_window"]
SENSOR_KINDS = frozenset({"step", "drift", "stuck", "spike"})
PROCESS_KINDS = frozenset({"heater_failure", "bearing", "scrap_window"})
FAULT_KINDS: tuple[str, ...] = ("step", "drift", "stuck", "spike", "heater_failure", "bearing", "scrap_window")


@dataclass(frozen=True)
class Fault:
    """One fault of one machine; times in simulated seconds since the machine's first tick.

    ``magnitude`` by kind: step = offset (signal units); drift = offset growth per second; spike =
    offset of the one reading; bearing = vibration factor reached at ``end_s`` (e.g. 3.0 = x3);
    scrap_window = offset of the process variable named by ``signal``; stuck, heater_failure: unused.
    """

    kind: str
    signal: str  # the variable path the fault shows on (for heater_failure: the zone's temperature)
    start_s: float
    end_s: float
    magnitude: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(FAULT_KINDS)})")
        if not self.end_s > self.start_s:
            raise ValueError("a fault must end after it starts")

    def active(self, t: float) -> bool:
        return self.start_s <= t < self.end_s


@dataclass
class FaultPlan:
    """The faults of one machine; empty by default (a machine without faults behaves as before)."""

    faults: list[Fault] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.faults)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        self.faults.sort(key=lambda f: f.start_s)
        return fault

    def active(self, kind: str, t: float, signal: str | None = None) -> Fault | None:
        for f in self.faults:
            if f.kind == kind and f.active(t) and (signal is None or f.signal == signal):
                return f
        return None

    # --- sensor faults: applied to published values by MachineServer.tick ------------------------
    def sensor_paths(self, t: float) -> set[str]:
        """Paths whose published value a sensor fault affects now (or just stopped affecting)."""
        return {f.signal for f in self.faults if f.kind in SENSOR_KINDS and f.start_s <= t < f.end_s + 2.0}

    def offset(self, path: str, t: float, tick_s: float) -> float:
        """What the sensor adds to the true value at ``t`` (0.0 without a fault)."""
        total = 0.0
        for f in self.faults:
            if f.signal != path or not f.active(t):
                continue
            if f.kind == "step":
                total += f.magnitude
            elif f.kind == "drift":
                total += f.magnitude * (t - f.start_s)
            elif f.kind == "spike" and t < f.start_s + tick_s:
                total += f.magnitude
        return total

    def stuck(self, path: str, t: float) -> bool:
        return any(f.kind == "stuck" and f.signal == path and f.active(t) for f in self.faults)

    # --- process faults: consulted by the machine models --------------------------------------------
    def process_offset(self, signal: str, t: float) -> float:
        """Offset of a process variable during a scrap window (0.0 otherwise)."""
        f = self.active("scrap_window", t, signal)
        return f.magnitude if f is not None else 0.0

    def vibration_factor(self, t: float) -> float:
        """Bearing damage: 1.0 when healthy, growing exponentially to ``magnitude`` at the fault's end."""
        f = self.active("bearing", t)
        if f is None:
            return 1.0
        frac = (t - f.start_s) / (f.end_s - f.start_s)
        return math.exp(math.log(max(1.0, f.magnitude)) * frac)

    # --- labels -----------------------------------------------------------------------------------------
    def labels(self, machine: str, t0: datetime) -> list[dict[str, Any]]:
        """One label per fault: start, end (UTC), kind, signal, magnitude, machine."""
        return [{"machine": machine, "kind": f.kind, "signal": f.signal,
                 "start": _iso(t0 + timedelta(seconds=f.start_s)), "end": _iso(t0 + timedelta(seconds=f.end_s)),
                 "start_s": f.start_s, "end_s": f.end_s, "magnitude": f.magnitude} for f in self.faults]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_labels(path: str | Path, runs: Iterable[tuple[str, FaultPlan]], t0: datetime,
                 meta: dict[str, Any] | None = None) -> Path:
    """Write the labels of every (machine name, plan) to a JSON file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {**(meta or {}), "t0": _iso(t0),
           "labels": [label for name, plan in runs for label in plan.labels(name, t0)]}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def read_labels(path: str | Path) -> list[dict[str, Any]]:
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["labels"])


# --- random plans -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Menu:
    """Which signals a kind may hit on a machine type, and the range of its magnitude (sign drawn too)."""

    signals: Sequence[str]
    magnitude: tuple[float, float] = (0.0, 0.0)
    duration_s: tuple[float, float] = (180.0, 600.0)
    signed: bool = True


_ZONES = tuple(f"Barrel.Zone{i}.Temperature" for i in range(1, 5))
MENUS: dict[str, dict[str, _Menu]] = {
    "imm": {
        "step": _Menu((*_ZONES, "Mould.Temperature"), (2.5, 6.0), (180.0, 600.0)),
        "drift": _Menu((*_ZONES, "Mould.Temperature"), (0.3 / 60, 1.0 / 60), (600.0, 1500.0)),
        "stuck": _Menu((*_ZONES, "Mould.Temperature"), (0.0, 0.0), (180.0, 600.0)),
        "spike": _Menu((*_ZONES, "Mould.Temperature"), (8.0, 25.0), (1.0, 1.0)),
        "heater_failure": _Menu(_ZONES, (0.0, 0.0), (300.0, 900.0), signed=False),
        "scrap_window": _Menu(("Mould.Temperature", "Injection.HoldPressure"), (0.0, 0.0), (600.0, 1500.0)),
    },
    "cnc": {
        "step": _Menu(("Coolant.Temperature", "Spindle.Vibration"), (0.0, 0.0), (180.0, 600.0)),
        "drift": _Menu(("Coolant.Temperature",), (0.4 / 60, 1.0 / 60), (600.0, 1500.0)),
        "stuck": _Menu(("Coolant.Temperature", "Spindle.Vibration", "Spindle.Load"), (0.0, 0.0), (180.0, 600.0)),
        "spike": _Menu(("Coolant.Temperature", "Spindle.Vibration"), (0.0, 0.0), (1.0, 1.0)),
        "bearing": _Menu(("Spindle.Vibration",), (2.5, 4.0), (1800.0, 3600.0), signed=False),
    },
}
# magnitudes that depend on the signal (units differ): (low, high), sign drawn
_SIGNAL_MAGNITUDE: dict[tuple[str, str], tuple[float, float]] = {
    ("step", "Coolant.Temperature"): (1.5, 4.0),
    ("step", "Spindle.Vibration"): (0.5, 1.2),
    ("spike", "Coolant.Temperature"): (6.0, 15.0),
    ("spike", "Spindle.Vibration"): (3.0, 8.0),
    ("scrap_window", "Mould.Temperature"): (6.0, 12.0),
    ("scrap_window", "Injection.HoldPressure"): (80.0, 160.0),
}
# faults that go one way only: +1 up, -1 down (others draw their sign)
_SIGN: dict[tuple[str, str], int] = {
    ("scrap_window", "Injection.HoldPressure"): -1,  # a worn check ring loses hold pressure
    ("spike", "Spindle.Vibration"): 1,  # an impact
    ("step", "Spindle.Vibration"): 1,  # a loosened part
}


def random_plan(machine_type: str, seed: int, duration_s: float, *, warmup_s: float = 2700.0,
                gap_s: tuple[float, float] = (900.0, 1800.0), kinds: Sequence[str] | None = None,
                tick_s: float = 1.0) -> FaultPlan:
    """Faults one after another (never overlapping), after a clean warm-up, with clean gaps between.

    Kinds rotate through the machine's menu in a seeded random order, so every kind appears in a
    long enough run. Deterministic given the arguments.
    """
    menu = MENUS.get(machine_type)
    if menu is None:
        raise ValueError(f"no fault menu for machine type {machine_type!r} (known: {', '.join(MENUS)})")
    chosen = [k for k in (kinds or menu) if k in menu]
    rng = random.Random(f"faults:{machine_type}:{seed}")
    plan = FaultPlan()
    t = warmup_s
    order: list[str] = []
    while True:
        if not order:
            order = list(chosen)
            rng.shuffle(order)
        kind = order.pop()
        m = menu[kind]
        signal = m.signals[int(rng.random() * len(m.signals))]
        lo, hi = _SIGNAL_MAGNITUDE.get((kind, signal), m.magnitude)
        magnitude = rng.uniform(lo, hi) if hi > 0 else 0.0
        sign = _SIGN.get((kind, signal), 0 if m.signed else 1)
        magnitude *= sign if sign else (-1.0 if rng.random() < 0.5 else 1.0)
        duration = max(tick_s, rng.uniform(*m.duration_s))
        if t + duration + 60.0 > duration_s:
            break
        plan.add(Fault(kind, signal, round(t, 3), round(t + duration, 3), round(magnitude, 6)))
        t += duration + rng.uniform(*gap_s)
    return plan
