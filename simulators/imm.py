"""Simulated injection moulding machine (``urn:aas-gateway:sim:imm``).

A cold start from ambient: the four barrel zones heat towards their (writable) setpoints as
first-order lags (T = 20-32 s, so a demo shows them closing in within ~30 s), production starts
once every zone is within tolerance, and each shot runs through fill / hold / cooling / ejection
with the matching injection pressure profile. The scrap probability of a shot grows with the
barrel's deviation from setpoint, so writing a setpoint visibly raises the scrap rate until the
zones have settled again.
"""

from __future__ import annotations

import random
from typing import Any

from asyncua import ua

from simulators import units as u
from simulators.physics import (
    AlarmState,
    FirstOrderLag,
    MachineState,
    MonotonicCounter,
    StateMachine,
    gaussian,
)
from simulators.server import MachineServer, MethodError, MethodSpec, VarSpec

S = MachineState
AMBIENT_C = 22.0
ZONES = 4
DEFAULT_SETPOINTS = (200.0, 215.0, 225.0, 230.0)
HEAT_TAU_S = (20.0, 24.0, 28.0, 32.0)
COOL_TAU_S = 300.0  # heaters off: a barrel loses heat much more slowly than it gains it
READY_TOLERANCE_C = 8.0
NOMINAL_CYCLE_S = 14.0
HOLD_PRESSURE_BAR = 650.0
MOULD_RUNNING_C = 45.0
RANDOM_ALARMS = [(501, "Nozzle heater band open circuit"), (730, "Ejector not retracted"),
                 (612, "Hopper material low")]


class ImmMachine(MachineServer):
    machine_type = "imm"
    default_name = "IMM01"

    def __init__(self, name: str | None = None, *, auto_acknowledge_s: float | None = 90.0, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.auto_acknowledge_s = auto_acknowledge_s
        self.sm = StateMachine(S.SETUP, {S.RUNNING: [(S.ALARM, 1 / 1800)]})
        self.alarm = AlarmState()
        self.production = True  # Setup turns into Running once the barrel is hot
        self.zones = [FirstOrderLag(HEAT_TAU_S[i], AMBIENT_C) for i in range(ZONES)]
        self.mould = FirstOrderLag(90.0, AMBIENT_C)
        self.pressure = FirstOrderLag(0.08, 0.0)
        self.shots, self.good, self.scrap = MonotonicCounter(), MonotonicCounter(), MonotonicCounter()
        self.cycle_pos = 0.0
        self.cycle_s = NOMINAL_CYCLE_S
        self.last_cycle_s = 0.0
        self.last_hold_bar = 0.0
        # the hold-pressure sensor has its own noise generator, so adding it left every other value as it was
        self.hold_rng = random.Random(f"hold:{self.seed}")

    def variables(self) -> list[VarSpec]:
        specs = [VarSpec("Machine.State", ua.VariantType.String, "Setup")]
        for i in range(ZONES):
            specs.append(VarSpec(f"Barrel.Zone{i + 1}.Temperature", ua.VariantType.Double, AMBIENT_C,
                                 u.CELSIUS, (0.0, 400.0)))
            specs.append(VarSpec(f"Barrel.Zone{i + 1}.Setpoint", ua.VariantType.Double, DEFAULT_SETPOINTS[i],
                                 u.CELSIUS, (0.0, 400.0), writable=True))
        specs += [
            VarSpec("Mould.Temperature", ua.VariantType.Double, AMBIENT_C, u.CELSIUS, (0.0, 150.0)),
            VarSpec("Injection.Pressure", ua.VariantType.Double, 0.0, u.BAR, (0.0, 2500.0)),
            VarSpec("Injection.CycleTime", ua.VariantType.Double, 0.0, u.SECOND, (0.0, 120.0),
                    description="Duration of the last completed shot"),
            VarSpec("Injection.HoldPressure", ua.VariantType.Double, 0.0, u.BAR, (0.0, 2500.0),
                    description="Mean hold pressure of the last completed shot"),
            VarSpec("Counters.Shots", ua.VariantType.UInt32, 0, u.PIECE),
            VarSpec("Counters.Good", ua.VariantType.UInt32, 0, u.PIECE),
            VarSpec("Counters.Scrap", ua.VariantType.UInt32, 0, u.PIECE),
            VarSpec("Alarm.Active", ua.VariantType.Boolean, False),
            VarSpec("Alarm.Code", ua.VariantType.Int32, 0),
            VarSpec("Alarm.Message", ua.VariantType.String, ""),
        ]
        return specs

    def methods(self) -> list[MethodSpec]:
        return [
            MethodSpec("AcknowledgeAlarm", self.acknowledge_alarm, description="Reset the active alarm"),
            MethodSpec("ResetCounters", self.reset_counters, description="Zero Shots, Good and Scrap"),
            MethodSpec("StartProduction", self.start_production, description="Heat up (if needed) and produce"),
            MethodSpec("StopProduction", self.stop_production, description="Finish producing; heaters stay on"),
        ]

    # ------------------------------------------------------------------ commands
    def setpoint(self, zone: int) -> float:
        return float(self.model(f"Barrel.Zone{zone + 1}.Setpoint"))

    def max_deviation(self) -> float:
        return max(abs(z.value - self.setpoint(i)) for i, z in enumerate(self.zones))

    def acknowledge_alarm(self) -> None:
        if self.alarm.active:
            self.alarm.clear()
            self.sm.force(S.SETUP if self.production else S.IDLE)

    def reset_counters(self) -> None:
        for c in (self.shots, self.good, self.scrap):
            c.reset()

    def start_production(self) -> None:
        if self.alarm.active:
            raise MethodError(ua.StatusCodes.BadInvalidState, "acknowledge the alarm first")
        self.production = True
        if self.sm.state != S.RUNNING:
            self.sm.force(S.SETUP)

    def stop_production(self) -> None:
        self.production = False
        if self.sm.state in (S.RUNNING, S.SETUP):
            self.sm.force(S.IDLE)
        self.cycle_pos = 0.0

    def power_off(self) -> None:
        """Heaters off: the barrel cools towards ambient."""
        self.production = False
        self.sm.force(S.OFF)

    def raise_alarm(self, code: int, message: str) -> None:
        self.alarm.raise_(code, message, self.sim_time)
        self.sm.force(S.ALARM)

    # ------------------------------------------------------------------ physics
    def step(self, dt: float) -> dict[str, Any]:
        rng = self.rng
        state = self.sm.step(rng, dt)
        if state == S.ALARM and not self.alarm.active:
            self.raise_alarm(*RANDOM_ALARMS[int(rng.random() * len(RANDOM_ALARMS))])
        if (self.alarm.active and self.auto_acknowledge_s is not None
                and self.sim_time - self.alarm.since >= self.auto_acknowledge_s):
            self.acknowledge_alarm()
        state = self.sm.state

        heaters = state != S.OFF
        now = self.sim_time
        for i, zone in enumerate(self.zones):
            failed = self.faults and self.faults.active("heater_failure", now, f"Barrel.Zone{i + 1}.Temperature")
            if heaters and not failed:
                zone.step(self.setpoint(i), dt)
            else:
                zone.step(AMBIENT_C, dt, tau_s=COOL_TAU_S)
        deviation = self.max_deviation()
        if state == S.SETUP and self.production and deviation <= READY_TOLERANCE_C:
            self.sm.force(S.RUNNING)
            self.cycle_pos, state = 0.0, S.RUNNING

        target_pressure = 0.0
        hold = HOLD_PRESSURE_BAR + (self.faults.process_offset("Injection.HoldPressure", now) if self.faults else 0.0)
        mould_offset = self.faults.process_offset("Mould.Temperature", now) if self.faults else 0.0
        if state == S.RUNNING:
            self.cycle_pos += dt
            t = self.cycle_pos
            if t < 1.2:  # fill: a colder melt needs more pressure
                target_pressure = (1100.0 + 4.0 * deviation) * t / 1.2
            elif t < 4.0:  # hold
                target_pressure = hold
            elif t < self.cycle_s - 2.0:  # cooling + plasticising: back pressure
                target_pressure = 60.0
            if self.cycle_pos >= self.cycle_s:
                self.shots.add()
                p_scrap = min(0.95, 0.01 + 0.04 * max(0.0, deviation - 3.0)
                              + 0.03 * max(0.0, abs(self.mould.value - MOULD_RUNNING_C) - 3.0)
                              + 0.005 * max(0.0, HOLD_PRESSURE_BAR - 20.0 - hold))
                self.last_hold_bar = round(hold + self.hold_rng.gauss(0.0, 2.0), 1)
                (self.scrap if rng.random() < p_scrap else self.good).add()
                self.last_cycle_s = self.cycle_s
                self.cycle_pos = 0.0
                self.cycle_s = NOMINAL_CYCLE_S * (1.0 + gaussian(rng, 0.01))
        pressure = self.pressure.step(target_pressure, dt)
        mould_target = {S.RUNNING: MOULD_RUNNING_C, S.OFF: AMBIENT_C}.get(state, 35.0) + mould_offset
        mould = self.mould.step(mould_target, dt)

        out: dict[str, Any] = {"Machine.State": state.value}
        for i, zone in enumerate(self.zones):
            out[f"Barrel.Zone{i + 1}.Temperature"] = round(zone.value + gaussian(rng, 0.15), 2)
        out.update({
            "Mould.Temperature": round(mould + gaussian(rng, 0.1), 2),
            "Injection.Pressure": round(max(0.0, pressure + (gaussian(rng, 3.0) if pressure > 1 else 0.0)), 1),
            "Injection.CycleTime": round(self.last_cycle_s, 2),
            "Injection.HoldPressure": self.last_hold_bar,
            "Counters.Shots": self.shots.value,
            "Counters.Good": self.good.value,
            "Counters.Scrap": self.scrap.value,
            "Alarm.Active": self.alarm.active,
            "Alarm.Code": self.alarm.code,
            "Alarm.Message": self.alarm.message,
        })
        return out
