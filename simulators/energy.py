"""Simulated 3-phase energy meter on a press line (``urn:aas-gateway:sim:energy``).

The line's state sets the load (standby, idle, setup, production with a power pulse per press
stroke); the meter derives reactive power from a state-dependent power factor, per-phase
currents from apparent power and a slightly unbalanced load, and integrates active power into
the kWh register. Mains voltage and frequency drift slowly like a real grid. A real meter never
resets its energy register, so ``ResetCounters`` only zeroes the ``Energy.Trip`` counter.
"""

from __future__ import annotations

import math
from typing import Any

from asyncua import ua

from simulators import units as u
from simulators.physics import FirstOrderLag, MachineState, RandomWalk, StateMachine, gaussian
from simulators.server import MachineServer, MethodSpec, VarSpec

S = MachineState
BASE_LOAD_KW = {S.OFF: 0.4, S.IDLE: 6.0, S.SETUP: 9.0, S.ALARM: 5.0, S.RUNNING: 28.0}
POWER_FACTOR = {S.OFF: 0.35, S.IDLE: 0.65, S.SETUP: 0.72, S.ALARM: 0.62, S.RUNNING: 0.88}
PHASE_SHARE = (1.00, 1.03, 0.97)  # slightly unbalanced load
PHASE_VOLTAGE_OFFSET = (0.0, 0.8, -0.6)
STROKES_PER_MIN = 18.0
ALARM_RECOVERY_S = 60.0


class EnergyMeter(MachineServer):
    machine_type = "energy"
    default_name = "EM01"

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.sm = StateMachine(S.RUNNING, {
            S.RUNNING: [(S.IDLE, 1 / 300), (S.ALARM, 1 / 3600)],
            S.IDLE: [(S.RUNNING, 1 / 60), (S.OFF, 1 / 1800), (S.SETUP, 1 / 900)],
            S.OFF: [(S.IDLE, 1 / 300)],
            S.SETUP: [(S.RUNNING, 1 / 120)],
        })
        self.power = FirstOrderLag(0.4, BASE_LOAD_KW[S.RUNNING])
        self.pf = FirstOrderLag(2.0, POWER_FACTOR[S.RUNNING])
        self.load_drift = RandomWalk(0.0, 0.3, 0.01, -4.0, 4.0)
        self.voltage = RandomWalk(230.0, 0.3, 0.02, 218.0, 242.0)
        self.frequency = RandomWalk(50.0, 0.004, 0.05, 49.9, 50.1)
        self.stroke_pos = 0.0
        self.energy_kwh = round(self.rng.uniform(10_000.0, 250_000.0), 1)  # a meter is never new
        self.trip_kwh = 0.0

    def variables(self) -> list[VarSpec]:
        d = ua.VariantType.Double
        specs = [
            VarSpec("Machine.State", ua.VariantType.String, "Running", description="State of the press line"),
            VarSpec("Power.Active", d, 0.0, u.KILOWATT, (0.0, 200.0)),
            VarSpec("Power.Reactive", d, 0.0, u.KILOVAR, (0.0, 200.0)),
            VarSpec("Power.Factor", d, 1.0, u.ONE, (0.0, 1.0)),
        ]
        specs += [VarSpec(f"Voltage.L{i}", d, 230.0, u.VOLT, (0.0, 300.0)) for i in (1, 2, 3)]
        specs += [VarSpec(f"Current.L{i}", d, 0.0, u.AMPERE, (0.0, 400.0)) for i in (1, 2, 3)]
        specs += [
            VarSpec("Frequency", d, 50.0, u.HERTZ, (45.0, 55.0)),
            VarSpec("Energy.ActiveImport", d, 0.0, u.KILOWATT_HOUR, description="Register; never resets"),
            VarSpec("Energy.Trip", d, 0.0, u.KILOWATT_HOUR, description="Trip counter; ResetCounters zeroes it"),
        ]
        return specs

    def methods(self) -> list[MethodSpec]:
        return [MethodSpec("ResetCounters", self.reset_counters, description="Zero Energy.Trip")]

    def reset_counters(self) -> None:
        self.trip_kwh = 0.0

    def step(self, dt: float) -> dict[str, Any]:
        rng = self.rng
        state = self.sm.step(rng, dt)
        if state == S.ALARM and self.sm.time_in_state >= ALARM_RECOVERY_S:
            self.sm.force(S.IDLE)
            state = S.IDLE
        demand = BASE_LOAD_KW[state]
        if state == S.RUNNING:
            period = 60.0 / STROKES_PER_MIN
            self.stroke_pos = (self.stroke_pos + dt) % period
            if self.stroke_pos < 0.8:  # the press stroke draws a pulse
                demand += 45.0 * math.sin(math.pi * self.stroke_pos / 0.8)
        drift = self.load_drift.step(rng, dt)
        if state != S.OFF:
            demand += drift
        p = max(0.05, self.power.step(demand, dt) + gaussian(rng, 0.15))
        pf = min(0.99, max(0.1, self.pf.step(POWER_FACTOR[state], dt) + gaussian(rng, 0.003)))
        q = p * math.tan(math.acos(pf))
        s_kva = math.hypot(p, q)
        v_mean = self.voltage.step(rng, dt) - 0.02 * p  # line drop under load
        volts = [v_mean + PHASE_VOLTAGE_OFFSET[i] + gaussian(rng, 0.1) for i in range(3)]
        amps = [s_kva * 1000.0 / (3.0 * volts[i]) * PHASE_SHARE[i] + gaussian(rng, 0.02) for i in range(3)]
        hz = self.frequency.step(rng, dt) + gaussian(rng, 0.001)
        self.energy_kwh += p * dt / 3600.0
        self.trip_kwh += p * dt / 3600.0
        return {
            "Machine.State": state.value,
            "Power.Active": round(p, 2),
            "Power.Reactive": round(q, 2),
            "Power.Factor": round(pf, 3),
            "Voltage.L1": round(volts[0], 1),
            "Voltage.L2": round(volts[1], 1),
            "Voltage.L3": round(volts[2], 1),
            "Current.L1": round(max(0.0, amps[0]), 2),
            "Current.L2": round(max(0.0, amps[1]), 2),
            "Current.L3": round(max(0.0, amps[2]), 2),
            "Frequency": round(hz, 3),
            # meter resolution 1 Wh; rounding a growing register keeps it non-decreasing
            "Energy.ActiveImport": round(self.energy_kwh, 3),
            "Energy.Trip": round(self.trip_kwh, 3),
        }
