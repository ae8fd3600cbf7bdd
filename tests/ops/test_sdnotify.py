"""systemd's notify protocol against a real datagram socket, with a real gateway collecting from a simulator.

The test plays systemd: it binds the AF_UNIX datagram socket named in NOTIFY_SOCKET (a path, and the
abstract namespace as `@name`), sets WATCHDOG_USEC, and reads what the gateway sends from another
thread, so it keeps listening while the gateway's event loop is held on purpose.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import Gateway
from gateway.ops.sdnotify import SdNotify, WriterProgress
from simulators.energy import EnergyMeter
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

WATCHDOG_USEC = 600_000  # pings every 0.2 s


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET: every datagram with its arrival time (monotonic)."""

    def __init__(self, address: str) -> None:
        self.name = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def times(self, field: str) -> list[float]:
        return [t for t, m in self.messages if field in m.split("\n")]

    def has(self, field: str) -> bool:
        return bool(self.times(field))


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", fake.name)
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fake
    fake.close()


def test_messages_reach_a_path_and_an_abstract_socket(tmp_path: Path) -> None:
    for address in (str(tmp_path / "n.sock"), f"@aas-gw-test-{uuid.uuid4().hex}"):
        fake = FakeSystemd(address)
        try:
            n = SdNotify({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000"})
            assert n.enabled and n.watchdog_s == 30.0
            assert n.notify("READY=1", "STATUS=up")
            assert wait_sync(lambda f=fake: f.has("READY=1") and f.has("STATUS=up"))
            n.close()
        finally:
            fake.close()
    # outside systemd: nothing to do, nothing fails; a watchdog for another pid is not ours
    assert not SdNotify({}).notify("READY=1")
    assert SdNotify({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_s is None


def wait_sync(pred: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_writer_progress_condition() -> None:
    """A writer with queued rows and no progress for stall_s is a problem; idle or failing (retrying) is not."""
    state: dict[str, Any] = {"pending": 0, "done": 0, "healthy": True, "now": 0.0}
    wp = WriterProgress(lambda: int(state["pending"]), lambda: int(state["done"]), lambda: bool(state["healthy"]),
                        stall_s=10, clock=lambda: float(state["now"]))
    assert wp.problem() is None
    state.update(pending=5, now=5.0)
    assert wp.problem() is None
    state.update(now=16.0)
    assert "no progress for 16 s with 5 rows" in (wp.problem() or "")
    state.update(done=5, pending=0, now=17.0)  # it committed
    assert wp.problem() is None
    state.update(pending=3, healthy=False, now=40.0)  # a failing disk: retried, reported by /health/ready
    assert wp.problem() is None


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_ready_watchdog_only_while_the_loop_runs_then_stopping(machines: Any, tmp_path: Path,
                                                                    systemd: FakeSystemd) -> None:
    meter = await machines(EnergyMeter, name="EM01", seed=1)
    cfg = gateway_config(tmp_path, asset("EM01", meter, {"Voltage.L1": "xs:double"}))
    gw = Gateway(cfg)
    await gw.start()
    try:
        await wait_for(lambda: systemd.has("READY=1"), message="READY=1")
        await wait_for(lambda: len(systemd.times("WATCHDOG=1")) >= 3, message="watchdog pings")
        assert any(m.startswith("WATCHDOG=1\nSTATUS=") and "sources connected" in m for _, m in systemd.messages)
        # hold the event loop the way a blocking call would: no ping may arrive meanwhile
        before = len(systemd.times("WATCHDOG=1"))
        t0 = time.monotonic()
        time.sleep(2.0)  # noqa: ASYNC251 (the point of the test: the loop is blocked)
        t1 = time.monotonic()
        during = [t for t in systemd.times("WATCHDOG=1") if t0 + 0.05 < t < t1]
        assert during == [], f"{len(during)} pings while the loop was blocked"
        assert len([t for t in systemd.times("WATCHDOG=1") if t <= t1]) - before <= 1  # one in flight at most
        # the loop runs again: so do the pings
        await wait_for(lambda: [t for t in systemd.times("WATCHDOG=1") if t > t1], message="pings after the stall")
        # a long-running task that ended (here: cancelled) is a bug: the pings stop, the status says why
        lag = next(t for t in gw._tasks if t.get_name() == "loop-lag")
        lag.cancel()
        await wait_for(lambda: any("unhealthy: task loop-lag ended" in m for _, m in systemd.messages),
                       message="unhealthy status")
        t2 = time.monotonic()
        await asyncio.sleep(1.0)
        assert [t for t in systemd.times("WATCHDOG=1") if t > t2 + 0.05] == []
    finally:
        await gw.stop()
    await wait_for(lambda: systemd.has("STOPPING=1"), message="STOPPING=1")
    assert systemd.times("READY=1")[0] < systemd.times("STOPPING=1")[0]


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_the_cli_gateway_notifies_an_abstract_socket_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`aas-gateway run` as systemd starts it: READY once started, STOPPING on SIGTERM, exit 0."""
    from tests.integration.test_loop_stall import start_simulator

    sim, machine = await start_simulator()
    fake = FakeSystemd(f"@aas-gw-test-{uuid.uuid4().hex}")
    gw: asyncio.subprocess.Process | None = None
    try:
        cfg = {"historian": {"path": str(tmp_path / "historian.sqlite")}, "api": {"port": 0},
               "assets": [{"id_short": "CNC01", "id": "urn:test:aas:CNC01", "global_asset_id": "urn:test:asset:CNC01",
                           "source": {"type": "opcua", "endpoint": machine["endpoint"],
                                      "namespace": machine["namespace"],
                                      "security": {"policy": "None", "mode": "None"}},
                           "points": [{"node": "s=Spindle.Speed", "path": "Spindle.Speed", "type": "xs:double"}]}]}
        (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "NOTIFY_SOCKET": fake.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        gw = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "run", "-c",
                                                  str(tmp_path / "gateway.yaml"), "--log-level", "WARNING", env=env,
                                                  stdout=asyncio.subprocess.DEVNULL)
        await wait_for(lambda: fake.has("READY=1"), timeout=60, message="READY=1 from the process")
        await wait_for(lambda: len(fake.times("WATCHDOG=1")) >= 2, message="pings from the process")
        gw.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(gw.wait(), 60) == 0
        assert fake.has("STOPPING=1")
    finally:
        fake.close()
        for proc in (gw, sim):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
