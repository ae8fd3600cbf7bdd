"""Benchmark load generator (``urn:aas-gateway:sim:scale``): ``n`` Doubles changing at ``rate_hz``.

Not a machine but a throughput source for the gateway's load tests: every tick updates the
next slice of variables round-robin so each one changes ``rate_hz`` times per second, spread
evenly over ticks (no bursts). Every update is a real value change. The variables carry no
EngineeringUnits properties: with 10,000 variables they would triple the address-space build
time for no benchmark value.
"""

from __future__ import annotations

import math
from typing import Any

from asyncua import ua

from simulators.server import MachineServer, VarSpec


class ScaleMachine(MachineServer):
    machine_type = "scale"
    default_name = "SCALE01"

    def __init__(self, name: str | None = None, *, n: int = 1000, rate_hz: float = 1.0, **kwargs: Any) -> None:
        if n < 1 or n > 99_999:
            raise ValueError("n must be within 1..99999 (5-digit variable index)")
        if rate_hz <= 0:
            raise ValueError("rate_hz must be > 0")
        self.n = int(n)
        self.rate_hz = float(rate_hz)
        self.paths = [f"Vars.V{i:05d}" for i in range(self.n)]
        super().__init__(name, **kwargs)
        if self.rate_hz * self.tick_s > 1.0:
            # at most one update per variable per tick: the effective rate is capped at 1/tick_s
            self.rate_hz = 1.0 / self.tick_s
        self._cursor = 0
        self._budget = 0.0
        self._phase = [self.rng.random() * 2 * math.pi for _ in range(self.n)]

    def variables(self) -> list[VarSpec]:
        return [VarSpec(p, ua.VariantType.Double, 0.0) for p in self.paths]

    @property
    def updates_per_second(self) -> float:
        return self.n * self.rate_hz

    def step(self, dt: float) -> dict[str, Any]:
        self._budget += self.n * self.rate_hz * dt
        due = min(self.n, int(self._budget + 1e-9))
        self._budget -= due
        rng, t, paths, phase, model = self.rng, self.sim_time, self.paths, self._phase, self._model
        out: dict[str, Any] = {}
        cursor = self._cursor
        for _ in range(due):
            path = paths[cursor]
            value = round(50.0 + 40.0 * math.sin(0.05 * t + phase[cursor]) + rng.gauss(0.0, 0.5), 4)
            if value == model[path]:
                value += 0.0001  # the contract is that every update is a change
            out[path] = value
            cursor = (cursor + 1) % self.n
        self._cursor = cursor
        return out
