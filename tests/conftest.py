"""Shared test helpers: polling with a timeout instead of sleeps; the secrets check plugin."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from simulators.server import MachineServer

# the session-end check that no secret reached a log (and the run-wide log it reads): order-independent
pytest_plugins = ("tests.secrets_check",)


async def wait_for(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 20.0, interval: float = 0.05,
                   message: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {message} (last value {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
async def machines() -> AsyncIterator[Callable[..., Any]]:
    """Factory starting simulators on free ports; all are stopped at teardown."""
    started: list[MachineServer] = []

    async def start(cls: type[MachineServer], **kwargs: Any) -> MachineServer:
        kwargs.setdefault("port", 0)
        sim = cls(**kwargs)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        if sim.running:
            await sim.stop()
