"""OPC UA machine simulators for the gateway's integration tests, demos and benchmarks.

Each machine is an asyncua server on a loopback port whose values come from seeded physics
(deterministic per seed and tick count) and that supports fault injection. Import only
asyncua and the standard library here: the gateway depends on this package, never the reverse.
"""

from simulators.cnc import CncMachine
from simulators.energy import EnergyMeter
from simulators.imm import ImmMachine
from simulators.runner import MACHINE_TYPES, MachineSpec, main, run_machines
from simulators.scale import ScaleMachine
from simulators.server import CONTROL_NAMESPACE, MachineServer, MethodError, MethodSpec, VarSpec

__all__ = [
    "CONTROL_NAMESPACE",
    "MACHINE_TYPES",
    "CncMachine",
    "EnergyMeter",
    "ImmMachine",
    "MachineServer",
    "MachineSpec",
    "MethodError",
    "MethodSpec",
    "ScaleMachine",
    "VarSpec",
    "main",
    "run_machines",
]
