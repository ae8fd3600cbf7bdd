"""Simulated CNC machining centre (``urn:aas-gateway:sim:cnc``).

Behaves like a 3-axis mill running part programs: the machine state decides whether the spindle
turns and the axes move; a part cycle follows the program's toolpath and bumps the part counter;
cutting wears the tool in proportion to spindle load until tool life expires (alarm 4100). An
optional simulated operator acknowledges alarms (and changes the expired tool) after a fixed
simulated delay so unattended demos do not stall forever.

For KPIs it also counts good and scrapped parts (a worn tool and the first part after a tool
change make scrap bursts) and exposes the OPC 40001-1 Machinery building blocks: MachineryItemState
and MachineryOperationMode (derived from the machine state), Identification, and operation
counters. These draw from their own seeded random stream, so the machine's other values are the
same sequences as before they were added.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
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
TOOL_LIFE_ALARM = 4100
RANDOM_ALARMS = [(2001, "Coolant level low"), (3005, "Axis Y following error"), (1502, "Door interlock open")]
MB = "MachineryBuildingBlocks"  # OPC 40001-1 building blocks below the machine object
# OPC 40001-1: MachineryItemState and MachineryOperationMode of each simulated state
ITEM_STATE = {S.RUNNING: "Executing", S.SETUP: "Executing", S.IDLE: "NotExecuting", S.ALARM: "OutOfService",
              S.OFF: "NotAvailable"}
OPERATION_MODE = {S.RUNNING: "Processing", S.SETUP: "Setup", S.IDLE: "Processing", S.ALARM: "Processing",
                  S.OFF: "None"}
SCRAP_P = 0.01  # a sharp tool
WORN_SCRAP_P = 0.35  # tool wear above WORN_AT: a scrap burst until the tool is changed
WORN_AT = 85.0


@dataclass(frozen=True)
class Program:
    spindle_rpm: float
    feed_mm_min: float
    cycle_s: float


PROGRAMS = {
    "O1001_FLANGE": Program(8000.0, 1200.0, 45.0),
    "O2040_HOUSING": Program(6000.0, 900.0, 90.0),
    "O3300_SHAFT": Program(10000.0, 1600.0, 30.0),
}


def program_for(name: str) -> Program:
    """Unknown program names get stable parameters from a CRC (not ``hash``, which is salted)."""
    if name in PROGRAMS:
        return PROGRAMS[name]
    h = zlib.crc32(name.encode())
    return Program(4000.0 + h % 7000, 600.0 + (h >> 8) % 1400, 30.0 + (h >> 16) % 90)


class CncMachine(MachineServer):
    machine_type = "cnc"
    default_name = "CNC01"
    TOOLS = 24

    def __init__(self, name: str | None = None, *, auto_acknowledge_s: float | None = 90.0, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.auto_acknowledge_s = auto_acknowledge_s
        self.sm = StateMachine(S.RUNNING, {
            S.RUNNING: [(S.IDLE, 1 / 900), (S.ALARM, 1 / 1800)],
            S.IDLE: [(S.RUNNING, 1 / 45), (S.SETUP, 1 / 1200)],
            S.SETUP: [(S.RUNNING, 1 / 180)],
        })
        self.alarm = AlarmState()
        self.program_name = "O1001_FLANGE"
        self.program = PROGRAMS[self.program_name]
        self.parts = MonotonicCounter(int(self.rng.uniform(100, 2000)))
        self.tool = 1 + int(self.rng.random() * self.TOOLS)
        self.wear = self.rng.uniform(0.0, 30.0)
        self.cycle_pos = 0.0
        self.cycle_s = self.program.cycle_s
        self.spindle = FirstOrderLag(0.6, 0.0)
        self.load = FirstOrderLag(0.3, 0.0)
        self.coolant = FirstOrderLag(180.0, 21.0)
        self.axes = [400.0, 250.0, 200.0]
        # KPI counters and OPC 40001 counters: their own random stream (see the module docstring)
        self.kpi_rng = random.Random(f"{self.seed}:kpi")
        self.good = MonotonicCounter(self.parts.value)
        self.scrap = MonotonicCounter()
        self.first_after_change = False
        self.power_on_s = 0.0
        self.operation_s = 0.0
        self.cycles = 0
        # the vibration sensor has its own noise generator, so adding it left every other value as it was
        self.vibration_rng = random.Random(f"vibration:{self.seed}")

    def variables(self) -> list[VarSpec]:
        return [
            VarSpec("Machine.State", ua.VariantType.String, "Running", description="Running/Idle/Setup/Alarm/Off"),
            VarSpec("Program.Name", ua.VariantType.String, "O1001_FLANGE"),
            VarSpec("Program.ExecutionState", ua.VariantType.String, "ACTIVE",
                    description="ACTIVE/READY/STOPPED/INTERRUPTED"),
            VarSpec("Program.PartCount", ua.VariantType.UInt32, 0, u.PIECE, description="Parts finished"),
            VarSpec("Spindle.Speed", ua.VariantType.Double, 0.0, u.RPM, (0.0, 12000.0)),
            VarSpec("Spindle.Load", ua.VariantType.Double, 0.0, u.PERCENT, (0.0, 150.0)),
            VarSpec("Feed.Rate", ua.VariantType.Double, 0.0, u.MM_PER_MIN, (0.0, 20000.0)),
            VarSpec("Feed.Override", ua.VariantType.Double, 100.0, u.PERCENT, (0.0, 150.0), writable=True,
                    description="Feed override setpoint"),
            VarSpec("Axes.X.Position", ua.VariantType.Double, 400.0, u.MM, (0.0, 800.0)),
            VarSpec("Axes.Y.Position", ua.VariantType.Double, 250.0, u.MM, (0.0, 500.0)),
            VarSpec("Axes.Z.Position", ua.VariantType.Double, 200.0, u.MM, (0.0, 500.0)),
            VarSpec("Spindle.Vibration", ua.VariantType.Double, 0.0, u.MM_PER_S, (0.0, 50.0),
                    description="Spindle housing vibration velocity, RMS (ISO 10816); grows with bearing damage"),
            VarSpec("Coolant.Temperature", ua.VariantType.Double, 21.0, u.CELSIUS, (0.0, 60.0)),
            VarSpec("Tool.Number", ua.VariantType.Int32, 1, description="Tool in spindle"),
            VarSpec("Tool.Wear", ua.VariantType.Double, 0.0, u.PERCENT, (0.0, 100.0),
                    description="Used tool life; 100 % raises alarm 4100"),
            VarSpec("Alarm.Active", ua.VariantType.Boolean, False),
            VarSpec("Alarm.Code", ua.VariantType.Int32, 0),
            VarSpec("Alarm.Message", ua.VariantType.String, ""),
            VarSpec("Program.GoodCount", ua.VariantType.UInt32, 0, u.PIECE, description="Good parts"),
            VarSpec("Program.ScrapCount", ua.VariantType.UInt32, 0, u.PIECE, description="Scrapped parts"),
            VarSpec(f"{MB}.MachineryItemState.CurrentState", ua.VariantType.String, "Executing",
                    description="OPC 40001-1 MachineryItemState: NotAvailable/OutOfService/Executing/NotExecuting"),
            VarSpec(f"{MB}.MachineryOperationMode.CurrentState", ua.VariantType.String, "Processing",
                    description="OPC 40001-1 MachineryOperationMode: None/Maintenance/Setup/Processing"),
            VarSpec(f"{MB}.Identification.Manufacturer", ua.VariantType.String, "Simulated Machine Tools Co."),
            VarSpec(f"{MB}.Identification.Model", ua.VariantType.String, "VMC-850"),
            VarSpec(f"{MB}.Identification.SerialNumber", ua.VariantType.String, f"SIM-CNC-{self.name}"),
            VarSpec(f"{MB}.Identification.ProductInstanceUri", ua.VariantType.String,
                    f"urn:aas-gateway:sim:cnc:{self.name}"),
            VarSpec(f"{MB}.Identification.YearOfConstruction", ua.VariantType.UInt16, 2021),
            VarSpec(f"{MB}.OperationCounters.PowerOnDuration", ua.VariantType.Double, 0.0, u.SECOND,
                    description="Time powered on since the simulator started"),
            VarSpec(f"{MB}.OperationCounters.OperationDuration", ua.VariantType.Double, 0.0, u.SECOND,
                    description="Time executing"),
            VarSpec(f"{MB}.OperationCounters.OperationCycleCounter", ua.VariantType.UInt32, 0,
                    description="Part cycles completed"),
        ]

    def methods(self) -> list[MethodSpec]:
        return [
            MethodSpec("AcknowledgeAlarm", self.acknowledge_alarm, description="Reset the active alarm"),
            MethodSpec("StartProgram", self.start_program,
                       [("name", ua.VariantType.String, "Program name")], "Load and start a part program"),
            MethodSpec("ResetCounters", self.reset_counters, description="Set Program.PartCount to 0"),
            MethodSpec("ChangeTool", self.change_tool, description="Load the next tool (wear 0 %)"),
        ]

    # ------------------------------------------------------------------ commands
    def acknowledge_alarm(self) -> None:
        if self.alarm.active:
            self.alarm.clear()
            self.sm.force(S.IDLE)

    def start_program(self, name: str) -> None:
        if self.alarm.active:
            raise MethodError(ua.StatusCodes.BadInvalidState, "acknowledge the alarm first")
        if not name:
            raise ValueError("empty program name")
        self.program_name, self.program = name, program_for(name)
        self.cycle_pos, self.cycle_s = 0.0, self.program.cycle_s
        self.sm.force(S.RUNNING)

    def reset_counters(self) -> None:
        self.parts.reset()
        self.good.reset()
        self.scrap.reset()

    def change_tool(self) -> None:
        self.tool = self.tool % self.TOOLS + 1
        self.wear = 0.0
        self.first_after_change = True
        if self.alarm.active and self.alarm.code == TOOL_LIFE_ALARM:
            self.alarm.clear()  # the cause is gone; the machine waits in Idle for the next start
            self.sm.force(S.IDLE)

    def raise_alarm(self, code: int, message: str) -> None:
        """Fault injection: put the machine into Alarm with this code."""
        self.alarm.raise_(code, message, self.sim_time)
        self.sm.force(S.ALARM)

    # ------------------------------------------------------------------ physics
    def vibration(self, speed: float, load: float) -> float:
        """RMS vibration velocity: imbalance grows with speed squared, cutting adds some; a damaged bearing
        (fault ``bearing``) multiplies it. A still spindle shows only the floor's background."""
        rng = self.vibration_rng
        if speed <= 1.0:
            return round(0.03 + abs(rng.gauss(0.0, 0.005)), 3)
        base = 0.03 + 0.37 * min(1.0, speed / 500.0) + 1.1 * (speed / 8000.0) ** 2 + 0.01 * load
        base *= self.faults.vibration_factor(self.sim_time) if self.faults else 1.0
        return round(max(0.0, base * (1.0 + rng.gauss(0.0, 0.03)) + rng.gauss(0.0, 0.02)), 3)

    def step(self, dt: float) -> dict[str, Any]:
        rng = self.rng
        state = self.sm.step(rng, dt)
        if state == S.ALARM and not self.alarm.active:
            code, message = RANDOM_ALARMS[int(rng.random() * len(RANDOM_ALARMS))]
            self.raise_alarm(code, message)
        if (self.alarm.active and self.auto_acknowledge_s is not None
                and self.sim_time - self.alarm.since >= self.auto_acknowledge_s):
            if self.alarm.code == TOOL_LIFE_ALARM:
                self.change_tool()
            self.acknowledge_alarm()
        if self.sm.state == S.RUNNING and self.wear >= 100.0:  # refuses to cut with a dead tool
            self.raise_alarm(TOOL_LIFE_ALARM, f"Tool life expired: change tool T{self.tool}")
        state = self.sm.state

        override = max(0.0, float(self.model("Feed.Override")))
        prog = self.program
        cutting = False
        if state == S.RUNNING:
            self.cycle_pos += dt
            if self.cycle_pos >= self.cycle_s:
                self.parts.add()
                self.cycles += 1
                p_scrap = WORN_SCRAP_P if self.wear >= WORN_AT else (0.5 if self.first_after_change else SCRAP_P)
                (self.scrap if self.kpi_rng.random() < p_scrap else self.good).add()
                self.first_after_change = False
                self.cycle_pos = 0.0
                self.cycle_s = prog.cycle_s * (1.0 + gaussian(rng, 0.02))
            phase = self.cycle_pos / self.cycle_s
            cutting = 0.1 <= phase < 0.9
            spindle_target = prog.spindle_rpm if cutting else 0.5 * prog.spindle_rpm
            feed = prog.feed_mm_min * override / 100.0 if cutting else 0.0
            load_target = (32.0 * override / 100.0 * (1.0 + 0.6 * self.wear / 100.0)) if cutting else 4.0
            if cutting:
                # contour pocket: 3 loops per cycle, stepping down 2 mm per fifth of the cycle
                angle = 2 * math.pi * 3 * (phase - 0.1) / 0.8
                self.axes = [400.0 + 150.0 * math.cos(angle), 250.0 + 100.0 * math.sin(angle),
                             100.0 - 2.0 * int((phase - 0.1) / 0.8 * 5)]
            else:
                self.axes[2] = 200.0  # retracted
        else:
            spindle_target, feed, load_target = 0.0, 0.0, 0.0

        speed = self.spindle.step(spindle_target, dt)
        load = self.load.step(load_target, dt)
        if cutting:
            self.wear = min(100.0, self.wear + 0.33 * (load / 40.0) * dt)  # ~5 min of cutting per tool
            if self.wear >= 100.0:
                self.raise_alarm(TOOL_LIFE_ALARM, f"Tool life expired: change tool T{self.tool}")
        coolant = self.coolant.step(20.0 + 0.15 * load, dt)
        vibration = self.vibration(speed, load)
        state = self.sm.state  # a tool-life alarm may have been raised just now
        execution = {S.RUNNING: "ACTIVE", S.IDLE: "READY", S.ALARM: "INTERRUPTED"}.get(state, "STOPPED")
        if state != S.OFF:
            self.power_on_s += dt
        if state == S.RUNNING:
            self.operation_s += dt
        return {
            "Machine.State": state.value,
            "Program.Name": self.program_name,
            "Program.ExecutionState": execution,
            "Program.PartCount": self.parts.value,
            "Spindle.Speed": round(speed + (gaussian(rng, 3.0) if speed > 1 else 0.0), 1),
            "Spindle.Load": round(max(0.0, load + (gaussian(rng, 0.8) if speed > 1 else 0.0)), 2),
            "Feed.Rate": round(feed, 1),
            "Axes.X.Position": round(self.axes[0], 3),
            "Axes.Y.Position": round(self.axes[1], 3),
            "Axes.Z.Position": round(self.axes[2], 3),
            "Spindle.Vibration": vibration,
            "Coolant.Temperature": round(coolant + gaussian(rng, 0.03), 2),
            "Tool.Number": self.tool,
            "Tool.Wear": round(self.wear, 3),
            "Alarm.Active": self.alarm.active,
            "Alarm.Code": self.alarm.code,
            "Alarm.Message": self.alarm.message,
            "Program.GoodCount": self.good.value,
            "Program.ScrapCount": self.scrap.value,
            f"{MB}.MachineryItemState.CurrentState": ITEM_STATE[state],
            f"{MB}.MachineryOperationMode.CurrentState": OPERATION_MODE[state],
            f"{MB}.OperationCounters.PowerOnDuration": round(self.power_on_s),
            f"{MB}.OperationCounters.OperationDuration": round(self.operation_s),
            f"{MB}.OperationCounters.OperationCycleCounter": self.cycles,
        }
