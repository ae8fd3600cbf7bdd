"""Fast, polite recovery: values resume within seconds of a server restart, without a session flood.

Backoff alone waits out its step: a PLC back after 10 s while the gateway is in a 16 s step was not
seen for another 6 s or more (10-14 s in the field). While backing off the source probes the port
every 0.5 s and connects the moment it accepts again; a server that accepts connections but refuses
the session still gets one attempt per backoff step. Sessions are counted where they are made: in
the server.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asyncua.server.internal_server import InternalServer

from connectors import status as st
from connectors.base import ConnectionState
from gateway.app import Gateway
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # server outages and reconnect back-off steps of seconds

POINT = "CNC01/OperationalData/Coolant.Temperature"


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """monotonic times of every CreateSession any in-process asyncua server handles."""
    made: list[float] = []
    create: Callable[..., Any] = InternalServer.create_session

    def counting(self: InternalServer, *args: Any, **kwargs: Any) -> Any:
        made.append(time.monotonic())
        return create(self, *args, **kwargs)

    monkeypatch.setattr(InternalServer, "create_session", counting)
    return made


async def test_values_resume_within_seconds_of_a_restart_with_one_session(
        machines: Any, tmp_path: Path, sessions: list[float]) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=2)
    # a long first step (8 s, then 16 s): without the probe the gateway would not look again until
    # about 8 + 16 = 24 s after the loss, 14 s after the restart below
    a = asset("CNC01", cnc, {"Coolant.Temperature": "xs:double"},
              reconnect={"initial_delay_s": 8.0, "max_delay_s": 30.0, "jitter": 0.0})
    async with Gateway(gateway_config(tmp_path, a)) as gw:
        src = gw.sources["CNC01"]
        await wait_for(lambda: src.health().state == ConnectionState.CONNECTED, message="connected")
        await cnc.stop()
        await wait_for(lambda: src.health().points[POINT].status == st.BAD_NOT_CONNECTED, message="loss seen")
        lost_at = time.monotonic()
        # down long enough for the first step's attempt (after 8 s) to fail: the gateway is now in its
        # 16 s step
        attempts = src.attempts  # type: ignore[attr-defined]
        await wait_for(lambda: src.attempts > attempts  # type: ignore[attr-defined]
                       and src.health().state == ConnectionState.DISCONNECTED,
                       timeout=20, message="the attempt after the first step fails")
        assert time.monotonic() - lost_at >= 7.0, "that attempt came at the end of the step, not before"
        before = len(sessions)
        await cnc.start()  # same port, same node ids
        back_ns = time.time_ns()

        async def new_value() -> Any:
            await gw.historian.flush()
            rows = await gw.historian.query("CNC01", "OperationalData", "Coolant.Temperature", limit=10000)
            return next((r for r in rows if r.status == st.GOOD and r.recv_ts > back_ns), None)

        row = await wait_for(new_value, timeout=20, message="a value after the restart")
        resumed_s = (row.recv_ts - back_ns) / 1e9
        print(f"first value {resumed_s:.2f} s after the server was reachable again")
        # the bound is 3 s; 5 s leaves room for a loaded 2-core box and is far from the old 14 s
        assert resumed_s < 5.0, resumed_s
        assert len(sessions) - before == 1, "exactly one CreateSession after the restart"
        assert src.health().connects == 2


async def test_a_server_that_refuses_the_session_is_retried_once_per_step(
        machines: Any, tmp_path: Path, sessions: list[float]) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=2, users={"operator": "right"})
    a = asset("CNC01", cnc, {"Coolant.Temperature": "xs:double"},
              user={"username": "operator", "password": "wrong"},
              reconnect={"initial_delay_s": 1.0, "max_delay_s": 2.0, "jitter": 0.0})
    async with Gateway(gateway_config(tmp_path, a)) as gw:
        src = gw.sources["CNC01"]
        # steps of 1, 2, 2 s: attempts at about 0, 1, 3, 5 s; probing (a TCP connect every 0.5 s) would
        # also open a session every 0.5 s. Counted by events, not in a time window: the gaps between session
        # attempts are at least the backoff step; a loaded box can only make them longer, never shorter.
        await wait_for(lambda: len(sessions) >= 4, timeout=30, message="four session attempts")
        made = [t - sessions[0] for t in sessions]
        assert all(b - a >= 0.9 for a, b in itertools.pairwise(made)), made
        assert src.health().connects == 0
        assert "BadUserAccessDenied" in (src.health().last_error or "")
