"""Model-level tests: physics and fault injection driven by ``tick()``, no server, no sockets."""

from __future__ import annotations

import random

import pytest

from simulators import CncMachine, EnergyMeter, ImmMachine, ScaleMachine
from simulators.physics import FirstOrderLag, MachineState, MonotonicCounter, RandomWalk, StateMachine
from simulators.runner import MachineSpec, build_machines


def run(machine, ticks: int) -> list[dict]:
    return [machine.tick() for _ in range(ticks)]


@pytest.mark.parametrize("cls", [CncMachine, ImmMachine, EnergyMeter, lambda **kw: ScaleMachine(n=50, **kw)])
def test_same_seed_same_sequence_different_seed_differs(cls) -> None:
    a, b, c = cls(seed=11), cls(seed=11), cls(seed=12)
    seq_a, seq_b, seq_c = run(a, 400), run(b, 400), run(c, 400)
    assert seq_a == seq_b
    assert a.changes == b.changes and a.values == b.values
    assert seq_a != seq_c


def test_first_order_lag_is_stable_and_converges() -> None:
    lag = FirstOrderLag(tau_s=20.0, value=20.0)
    for _ in range(200):  # 20 s at 0.1 s
        lag.step(220.0, 0.1)
    assert 20.0 + 200 * 0.60 < lag.value < 20.0 + 200 * 0.66  # 1 - 1/e = 63 %
    lag.step(0.0, 1000.0, tau_s=0.001)  # huge dt/tau must not overshoot
    assert lag.value == pytest.approx(0.0)


def test_random_walk_stays_bounded_and_state_machine_is_seeded() -> None:
    walk = RandomWalk(230.0, 5.0, 0.01, 220.0, 240.0)
    rng = random.Random(1)
    assert all(220.0 <= walk.step(rng, 0.1) <= 240.0 for _ in range(5000))
    transitions = {MachineState.RUNNING: [(MachineState.IDLE, 0.5)], MachineState.IDLE: [(MachineState.RUNNING, 0.5)]}

    def states(seed: int) -> list[MachineState]:
        sm, r = StateMachine(MachineState.RUNNING, dict(transitions)), random.Random(seed)
        return [sm.step(r, 0.1) for _ in range(500)]

    assert states(3) == states(3)
    assert {MachineState.RUNNING, MachineState.IDLE} == set(states(3))


def test_monotonic_counter_rejects_decrement() -> None:
    c = MonotonicCounter()
    c.add(2)
    with pytest.raises(ValueError):
        c.add(-1)
    assert c.value == 2


@pytest.mark.slow
def test_counters_never_decrease() -> None:
    imm, cnc, em = ImmMachine(seed=5), CncMachine(seed=5), EnergyMeter(seed=5)
    last: dict[str, float] = {}
    for _ in range(6000):  # 10 simulated minutes
        for m in (imm, cnc, em):
            m.tick()
        current = {
            "shots": imm.values["Counters.Shots"], "good": imm.values["Counters.Good"],
            "scrap": imm.values["Counters.Scrap"], "parts": cnc.values["Program.PartCount"],
            "kwh": em.values["Energy.ActiveImport"], "trip": em.values["Energy.Trip"],
        }
        for key, value in current.items():
            assert value >= last.get(key, value), key
        assert current["shots"] == current["good"] + current["scrap"]
        last = current
    assert imm.values["Counters.Shots"] > 10
    assert em.changes["Energy.ActiveImport"] > 100


def test_imm_barrel_heats_towards_setpoint_and_follows_a_new_setpoint() -> None:
    imm = ImmMachine(seed=1)
    start = imm.values["Barrel.Zone1.Temperature"]
    run(imm, 300)  # 30 s: the first zone (T=20 s) covers ~78 % of the way
    sp = imm.model("Barrel.Zone1.Setpoint")
    assert imm.values["Barrel.Zone1.Temperature"] > start + 0.7 * (sp - start)
    run(imm, 2000)  # 230 s in: everything settled, production running
    for zone in range(1, 5):
        assert abs(imm.values[f"Barrel.Zone{zone}.Temperature"] - imm.model(f"Barrel.Zone{zone}.Setpoint")) < 2.0
    assert imm.values["Machine.State"] == "Running"
    imm.write("Barrel.Zone2.Setpoint", 180.0)
    run(imm, 1500)
    assert imm.values["Barrel.Zone2.Setpoint"] == 180.0
    assert abs(imm.values["Barrel.Zone2.Temperature"] - 180.0) < 2.0
    imm.power_off()
    before = imm.values["Barrel.Zone1.Temperature"]
    run(imm, 300)
    assert imm.values["Barrel.Zone1.Temperature"] < before - 10.0  # cooling towards ambient


@pytest.mark.slow
def test_imm_scrap_rises_while_barrel_is_off_setpoint() -> None:
    hot = ImmMachine(seed=2)
    run(hot, 2500)
    base_scrap, base_shots = hot.scrap.value, hot.shots.value
    run(hot, 6000)
    settled_rate = (hot.scrap.value - base_scrap) / (hot.shots.value - base_shots)
    for zone in range(1, 5):  # setpoints 60 K above: the melt stays cold for a while
        hot.write(f"Barrel.Zone{zone}.Setpoint", hot.model(f"Barrel.Zone{zone}.Setpoint") + 60.0)
    base_scrap, base_shots = hot.scrap.value, hot.shots.value
    run(hot, 600)
    # production goes on only if it stays Running; scrap rate must be far higher than settled
    shots = hot.shots.value - base_shots
    assert shots > 0
    assert (hot.scrap.value - base_scrap) / shots > settled_rate + 0.3


def test_cnc_tool_wear_raises_alarm_that_stops_the_spindle() -> None:
    cnc = CncMachine(seed=3, auto_acknowledge_s=None)
    for _ in range(20000):
        cnc.tick()
        if cnc.values["Alarm.Active"]:
            break
    assert cnc.values["Alarm.Code"] == 4100, cnc.values
    assert cnc.values["Tool.Wear"] == 100.0
    assert cnc.values["Machine.State"] == "Alarm"
    assert cnc.values["Program.ExecutionState"] == "INTERRUPTED"
    run(cnc, 100)
    assert cnc.values["Spindle.Speed"] < 50.0 and cnc.values["Feed.Rate"] == 0.0
    cnc.acknowledge_alarm()
    run(cnc, 2)
    assert cnc.values["Alarm.Active"] is False and cnc.values["Machine.State"] == "Idle"
    cnc.start_program("O2040_HOUSING")  # tool still worn out: the alarm comes straight back
    run(cnc, 2)
    assert cnc.values["Alarm.Active"] is True
    cnc.change_tool()
    run(cnc, 2)
    assert cnc.values["Alarm.Active"] is False and cnc.values["Tool.Wear"] == 0.0


def test_freeze_drift_and_changes_counting() -> None:
    em = EnergyMeter(seed=9)
    run(em, 10)
    frozen_value, frozen_count = em.values["Voltage.L1"], em.changes["Voltage.L1"]
    em.freeze("Voltage.L1")
    run(em, 50)
    assert em.values["Voltage.L1"] == frozen_value and em.changes["Voltage.L1"] == frozen_count
    em.freeze("Voltage.L1", False)
    run(em, 5)
    assert em.changes["Voltage.L1"] > frozen_count
    em.drift("Frequency", 0.5)
    run(em, 100)  # 10 s -> +5 Hz
    assert em.values["Frequency"] > 54.0
    em.drift("Frequency", 0.0)
    run(em, 1)
    assert em.values["Frequency"] < 50.2
    assert em.total_changes == sum(em.changes.values())
    with pytest.raises(KeyError):
        em.freeze("No.Such.Variable")
    with pytest.raises(ValueError):
        em.drift("Machine.State", 1.0)


def test_energy_reset_only_resets_trip_counter() -> None:
    em = EnergyMeter(seed=4)
    run(em, 600)
    register = em.values["Energy.ActiveImport"]
    assert em.values["Energy.Trip"] > 0
    em.reset_counters()
    run(em, 1)
    assert em.values["Energy.Trip"] < 0.01
    assert em.values["Energy.ActiveImport"] >= register


def test_scale_updates_slices_at_rate_and_every_update_changes() -> None:
    sc = ScaleMachine(n=1000, rate_hz=2.0, tick_s=0.1)
    for _ in range(50):  # 5 s
        changed = sc.tick()
        assert len(changed) == 200  # 1000 vars * 2 Hz * 0.1 s
    assert set(sc.changes.values()) == {10}
    odd = ScaleMachine(n=7, rate_hz=1.0, tick_s=0.1)
    run(odd, 100)  # 10 s: fractional slices spread evenly
    assert set(odd.changes.values()) == {10}


def test_machine_spec_parsing() -> None:
    spec = MachineSpec.parse("scale:0:n=5000,rate_hz=2,name=SCALE02")
    assert (spec.type, spec.port, spec.options) == ("scale", 0, {"n": 5000, "rate_hz": 2.0, "name": "SCALE02"})
    assert MachineSpec.parse("cnc:4841").port == 4841
    with pytest.raises(ValueError):
        MachineSpec.parse("lathe")
    with pytest.raises(ValueError):
        MachineSpec.parse("cnc:0:colour=red")
    machines = build_machines(["cnc", "imm:0:name=IMM07"], seed=10)
    assert [m.name for m in machines] == ["CNC01", "IMM07"] and [m.seed for m in machines] == [10, 11]
    assert machines[0].node_id("Spindle.Speed") == "ns=2;s=Spindle.Speed"
