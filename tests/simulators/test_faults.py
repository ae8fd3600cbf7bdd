"""Labelled faults (simulators/faults.py): seeded plans, what each kind does, and the labels file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from simulators import CncMachine, ImmMachine
from simulators.faults import FAULT_KINDS, Fault, FaultPlan, random_plan, read_labels, write_labels


def run(m: CncMachine | ImmMachine, seconds: int) -> list[dict[str, object]]:
    return [dict(m.values) for _ in range(seconds) if m.tick() is not None]


def test_plans_are_seeded_cover_every_kind_and_never_overlap() -> None:
    a, b = random_plan("imm", 7, 12 * 3600), random_plan("imm", 7, 12 * 3600)
    assert a.faults == b.faults and a.faults != random_plan("imm", 8, 12 * 3600).faults
    assert {f.kind for f in a.faults} == {"step", "drift", "stuck", "spike", "heater_failure", "scrap_window"}
    assert {f.kind for f in random_plan("cnc", 7, 12 * 3600).faults} == {"step", "drift", "stuck", "spike", "bearing"}
    assert all(x.end_s < y.start_s for x, y in zip(a.faults, a.faults[1:], strict=False))
    assert a.faults[0].start_s >= 2700 and set(FAULT_KINDS) >= {f.kind for f in a.faults}


def test_sensor_faults_change_only_what_the_sensor_reports() -> None:
    clean, faulty = ImmMachine(seed=3, tick_s=1.0), ImmMachine(seed=3, tick_s=1.0)
    faulty.faults = FaultPlan([Fault("step", "Mould.Temperature", 100, 200, 5.0),
                               Fault("stuck", "Barrel.Zone1.Temperature", 300, 400),
                               Fault("spike", "Barrel.Zone2.Temperature", 500, 501, -20.0)])
    a, b = run(clean, 600), run(faulty, 600)
    assert a[50] == b[50]  # before any fault: the same run
    assert b[150]["Mould.Temperature"] == round(a[150]["Mould.Temperature"] + 5.0, 2)  # type: ignore[operator]
    assert len({v["Barrel.Zone1.Temperature"] for v in b[300:399]}) == 1  # stuck
    spike = [i for i in range(490, 510) if b[i]["Barrel.Zone2.Temperature"] != a[i]["Barrel.Zone2.Temperature"]]
    assert len(spike) == 1  # one reading
    assert a[-1] == b[-1]  # the physics underneath went on unchanged


def test_process_faults_change_the_physics() -> None:
    imm = ImmMachine(seed=4, tick_s=1.0)
    imm.faults = FaultPlan([Fault("heater_failure", "Barrel.Zone3.Temperature", 600, 900)])
    v = run(imm, 900)
    assert v[599]["Barrel.Zone3.Temperature"] - v[899]["Barrel.Zone3.Temperature"] > 100  # type: ignore[operator]
    cnc = CncMachine(seed=4, tick_s=1.0)
    cnc.faults = FaultPlan([Fault("bearing", "Spindle.Vibration", 0, 1800, 3.0)])
    vib = [x["Spindle.Vibration"] for x in run(cnc, 1800) if x["Spindle.Speed"] > 7000]  # type: ignore[operator]
    assert sum(vib[-50:]) / 50 > 2.0 * sum(vib[:50]) / 50  # type: ignore[arg-type]


def test_labels_file(tmp_path: Path) -> None:
    plan = random_plan("cnc", 1, 6 * 3600)
    path = write_labels(tmp_path / "labels.json", [("CNC01", plan)], datetime(2026, 1, 5, 6, tzinfo=UTC),
                        {"seed": 1})
    labels = read_labels(path)
    assert len(labels) == len(plan.faults) and json.loads(path.read_text())["seed"] == 1
    first = labels[0]
    assert first["machine"] == "CNC01" and first["start"].endswith("Z") and first["end"] > first["start"]
    assert {"kind", "signal", "start", "end"} <= set(first)
