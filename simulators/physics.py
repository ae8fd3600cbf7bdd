"""Pure, seeded building blocks for machine behaviour (no I/O, no asyncio).

The simulators must be *deterministic given a seed*: every helper here takes its randomness
from a ``random.Random`` that the machine owns and advances it in a fixed order, and every
dynamic takes the simulated ``dt`` explicitly instead of reading a clock. That keeps the value
sequence a function of (seed, tick count) only, so tests can assert exact sequences without a
server and the wall clock merely paces the live servers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum


class MachineState(StrEnum):
    """Coarse operating state shared by all machine types (published as a String)."""

    RUNNING = "Running"
    IDLE = "Idle"
    SETUP = "Setup"
    ALARM = "Alarm"
    OFF = "Off"


def gaussian(rng: random.Random, sigma: float) -> float:
    """Zero-mean measurement noise; ``sigma <= 0`` draws nothing (keeps rng order explicit)."""
    return rng.gauss(0.0, sigma) if sigma > 0 else 0.0


@dataclass
class RandomWalk:
    """Slow drift: a bounded, mean-reverting random walk (Ornstein-Uhlenbeck style).

    Pure random walks wander off to absurd values over a long demo; the weak pull back to
    ``mean`` keeps e.g. mains voltage plausible for hours while still drifting visibly.
    """

    mean: float
    step_sigma: float  # standard deviation of the change per sqrt(second)
    reversion_per_s: float = 0.01
    low: float = -math.inf
    high: float = math.inf
    value: float | None = None

    def step(self, rng: random.Random, dt: float) -> float:
        if self.value is None:
            self.value = self.mean
        pull = (self.mean - self.value) * min(1.0, self.reversion_per_s * dt)
        self.value += pull + rng.gauss(0.0, self.step_sigma * math.sqrt(dt))
        self.value = min(self.high, max(self.low, self.value))
        return self.value


@dataclass
class FirstOrderLag:
    """``T * dy/dt = u - y``, integrated exactly for piecewise-constant input.

    The exact solution (``y += (u - y) * (1 - exp(-dt/T))``) is stable for any dt/T ratio, so a
    coarse tick or a tiny time constant can never make a temperature overshoot or oscillate.
    """

    tau_s: float
    value: float

    def step(self, target: float, dt: float, tau_s: float | None = None) -> float:
        tau = self.tau_s if tau_s is None else tau_s
        if tau <= 0:
            self.value = target
        else:
            self.value += (target - self.value) * (1.0 - math.exp(-dt / tau))
        return self.value


@dataclass
class MonotonicCounter:
    """A counter that only moves up, except through an explicit ``reset()`` (ResetCounters)."""

    value: int = 0

    def add(self, n: int = 1) -> int:
        if n < 0:
            raise ValueError("a monotonic counter cannot be decremented")
        self.value += n
        return self.value

    def reset(self) -> None:
        self.value = 0


@dataclass
class StateMachine:
    """Machine state with seeded random transitions.

    ``transitions[state]`` lists ``(next_state, rate_per_second)``: in each step every transition
    of the current state fires with probability ``1 - exp(-rate * dt)`` (a Poisson process, so
    mean dwell times do not depend on the tick length). Exactly one uniform number is drawn per
    step whatever the state, which keeps the rng sequence aligned between runs that differ only in
    forced transitions. Commands (methods, faults) use ``force``.
    """

    state: MachineState
    transitions: dict[MachineState, list[tuple[MachineState, float]]] = field(default_factory=dict)
    time_in_state: float = 0.0

    def step(self, rng: random.Random, dt: float) -> MachineState:
        u = rng.random()
        self.time_in_state += dt
        options = self.transitions.get(self.state, [])
        total = sum(rate for _, rate in options)
        if total > 0 and u < 1.0 - math.exp(-total * dt):
            # pick which transition fired, proportionally to its rate, reusing u
            pick = u / (1.0 - math.exp(-total * dt)) * total
            for nxt, rate in options:
                pick -= rate
                if pick <= 0:
                    self.force(nxt)
                    break
            else:
                self.force(options[-1][0])
        return self.state

    def force(self, state: MachineState) -> None:
        if state != self.state:
            self.state = state
            self.time_in_state = 0.0


@dataclass
class AlarmState:
    """Active alarm (code + message); ``since`` is the simulated time it was raised."""

    active: bool = False
    code: int = 0
    message: str = ""
    since: float = 0.0

    def raise_(self, code: int, message: str, now: float) -> None:
        if not self.active:
            self.active, self.code, self.message, self.since = True, code, message, now

    def clear(self) -> None:
        self.active, self.code, self.message = False, 0, ""
