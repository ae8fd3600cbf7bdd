"""Real northbound peers for the end-to-end tests: VictoriaMetrics and Mosquitto (installed by .ci/run)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.influx.victoria import VictoriaMetrics, start_victoria_metrics
from tests.mqtt.broker import Broker, broker_dir, start_mosquitto, stop_mosquitto


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    url, proc = start_victoria_metrics(tmp_path / "vm")
    vm = VictoriaMetrics(tmp_path / "vm", url, proc)
    yield vm
    vm.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    d = tmp_path / "mqtt"
    d.mkdir()
    port, proc = start_mosquitto(d)
    b = Broker(d, port, proc)
    yield b
    for p in [*b.history, b.proc]:
        stop_mosquitto(p)
    if broker_dir(d) != d / "mosquitto":
        shutil.rmtree(broker_dir(d), ignore_errors=True)
