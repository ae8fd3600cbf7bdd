"""Shared test helpers: polling with a timeout instead of sleeps; one log file for the whole run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from gateway.logs import TextFormatter
from simulators.server import MachineServer

RUN_LOG = "test-run.log"


@pytest.fixture(scope="session", autouse=True)
def run_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every log record of our own code at INFO and above (and anything a test turns up) into one file.

    tests/zz_final greps it, with every other log and audit file of the run, for the run's secrets.
    """
    handler = logging.FileHandler(tmp_path_factory.getbasetemp() / RUN_LOG, encoding="utf-8")
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    ours = [logging.getLogger(name) for name in ("gateway", "connectors", "aas_models", "simulators")]
    levels = [lg.level for lg in ours]
    for lg in ours:
        lg.setLevel(logging.INFO)
    yield
    for lg, level in zip(ours, levels, strict=True):
        lg.setLevel(level)
    root.removeHandler(handler)
    handler.close()


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
