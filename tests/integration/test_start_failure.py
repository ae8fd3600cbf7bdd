"""A gateway whose start fails half-way stops what it started, so a second attempt simply works.

Here the REST API's port is taken: the historian is open, sources and producers run, then the API
cannot bind. Without the clean-up, their tasks kept running, the historian and the data directory's
run lock stayed held and the `async with` never returned (a test hung in its teardown).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Gateway
from simulators.energy import EnergyMeter
from tests.integration.conftest import asset, gateway_config


async def test_a_failed_start_leaves_nothing_behind(machines: Any, tmp_path: Path) -> None:
    meter = await machines(EnergyMeter, name="EM01", seed=1)
    cfg = gateway_config(tmp_path, asset("EM01", meter, {"Voltage.L1": "xs:double"}), api=True)
    taken = socket.socket()
    taken.bind((cfg.api.host, 0))
    taken.listen()
    try:
        busy = cfg.with_overrides({"api.port": taken.getsockname()[1]})
        before = {t for t in asyncio.all_tasks()}
        with pytest.raises(OSError, match="cannot listen"):
            async with Gateway(busy):
                pass
        left = {t for t in asyncio.all_tasks() if t not in before and not t.done()}
        assert left == set(), [t.get_name() for t in left]
    finally:
        taken.close()
    async with Gateway(cfg) as gw:  # the lock and the historian were released: the same data directory starts
        assert gw.api_url is not None
