"""Exponential backoff with jitter, shared by every connector that reconnects.

Jitter matters on a factory network: after a switch reboot, fifty gateways
must not hammer the same PLC in lock-step. Backoff alone makes recovery slow,
though: a PLC that restarts during an 8 s step is not seen for up to 8 s. So a
step may end early when the peer comes back (``wait_for_peer``): a cheap TCP
connect probes it every half second, and the moment a peer that refused
connections accepts one again, the next attempt starts. A peer that is
reachable but refuses the session gets no early attempt: at most one attempt
per step, whatever the probes see.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

PROBE_INTERVAL_S = 0.5


class Backoff:
    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.2,
                 rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._next = initial
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows x2 up to `maximum`, +/- jitter."""
        base = self._next
        self._next = min(self._next * 2, self.maximum)
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        self._next = self.initial
        self.attempts = 0


async def wait_for_peer(delay_s: float, reachable: Callable[[], Awaitable[bool]], *, down: bool,
                        interval_s: float = PROBE_INTERVAL_S) -> bool:
    """Wait out one backoff step of `delay_s`, ending it early when the peer comes back.

    `down`: the last attempt failed because the peer did not accept a connection. Probes `reachable`
    every `interval_s`; returns True as soon as a probe succeeds while the peer is known to be down (it
    was, or a probe failed), False when the step is over. So an unreachable peer is retried the moment it
    answers, and one that answers but refuses the session is retried only after the full step.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay_s
    while (remaining := deadline - loop.time()) > 0:
        started = loop.time()
        up = await reachable()
        if up and down:
            return True
        down = down or not up
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await asyncio.sleep(min(remaining, max(0.0, interval_s - (loop.time() - started))))
    return False


async def tcp_reachable(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Does host:port accept a TCP connection? (Closed again at once; nothing is sent.)"""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
