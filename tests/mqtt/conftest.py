"""Fixtures for the MQTT connector tests: real Mosquitto brokers on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mqtt.broker import Broker, broker_dir, start_mosquitto, stop_mosquitto


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """`start(password=..., tls=...) -> Broker`; every broker is stopped at teardown."""
    started: list[Broker] = []

    def start(**kwargs: Any) -> Broker:
        sub = tmp_path / f"broker{len(started)}"
        sub.mkdir()
        port, proc = start_mosquitto(sub, **kwargs)
        b = Broker(sub, port, proc, kwargs.get("password"), kwargs.get("tls"))
        started.append(b)
        return b

    yield start
    for b in started:
        for proc in [*b.history, b.proc]:
            stop_mosquitto(proc)
        d = broker_dir(b.tmp_path)
        if d != b.tmp_path / "mosquitto":
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broker(mosquitto_factory: Callable[..., Broker]) -> Broker:
    """An anonymous broker."""
    return mosquitto_factory()
