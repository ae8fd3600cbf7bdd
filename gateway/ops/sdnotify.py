"""systemd's notify protocol (sd_notify) and a watchdog that pings only while the gateway is healthy.

The protocol is one datagram per message, ``KEY=VALUE`` lines, to the AF_UNIX socket named in
``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). It is small enough to speak
directly (the `sdnotify` package is unmaintained; `systemd-python` needs libsystemd headers to build).
Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op.

With ``Type=notify`` the gateway sends ``READY=1`` once it started (historian open, sources and
API running), ``STATUS=...`` (a one-line summary, shown by ``systemctl status``), ``STOPPING=1``
when it begins to shut down. With ``WatchdogSec=`` systemd sets ``WATCHDOG_USEC``; the gateway then
sends ``WATCHDOG=1`` every third of it **only while these hold** (else systemd kills and restarts
it after WatchdogSec):

1. the event loop is responsive: the ping is sent from a coroutine on the loop, so a loop held by a
   blocking call sends none (once it runs again, pings resume: a stall that ended is logged, not punished);
2. the historian writer makes progress: it has no queued rows, or it committed (or is retrying a
   failing write, which `/health/ready` reports) within the last `stall_s` (a writer thread that died
   or hangs in a system call stops the pings; a full disk does not: restarting would not help it and
   would lose the queued rows);
3. every long-running task of the gateway (sources, forwarders, producers, health and loop-lag
   watchers) is still running: each restarts itself after an error, so one that ended is a bug.

``WATCHDOG_PID`` is honoured (the pings are for that process only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SdNotify:
    """Sends notify messages to systemd; a no-op without NOTIFY_SOCKET."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if path.startswith("@"):
            self.address = b"\0" + path[1:].encode()  # the abstract namespace
        elif path.startswith("/"):
            self.address = path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or (pid.isdigit() and int(pid) == os.getpid())
        self.watchdog_s: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send one message (fields joined by newlines); False if there is no socket or the send failed."""
        if self.address is None:
            return False
        data = "\n".join(fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(data, self.address)
        except OSError as e:
            if not self._failed:  # once: a missing socket must not flood the log every few seconds
                log.warning("sd_notify to %r failed: %s", self.address, e)
                self._failed = True
            return False
        self._failed = False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Watchdog:
    """Pings systemd's watchdog every `interval_s` while `problems()` returns nothing.

    `problems` returns the reasons the gateway is not healthy (empty: healthy); `status` a status line.
    """

    def __init__(self, notify: SdNotify, interval_s: float, problems: Callable[[], list[str]],
                 status: Callable[[], str] | None = None) -> None:
        self.notify = notify
        self.interval_s = interval_s
        self.problems = problems
        self.status = status
        self.pings = 0
        self.withheld = 0
        self._last_problems: list[str] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            late = loop.time() - due
            if late > self.interval_s:
                log.warning("watchdog: the event loop was held for about %.1f s (no pings meanwhile)", late)
            problems = list(self.problems())
            if problems:
                self.withheld += 1
                if problems != self._last_problems:
                    log.error("watchdog: not pinging systemd (it restarts the gateway after WatchdogSec unless this "
                              "clears): %s", "; ".join(problems))
                self.notify.notify("STATUS=unhealthy: " + "; ".join(problems)[:400])
            else:
                if self._last_problems:
                    log.info("watchdog: healthy again, pinging systemd")
                fields = ["WATCHDOG=1"]
                if self.status is not None:
                    with contextlib.suppress(Exception):
                        fields.append("STATUS=" + self.status()[:400])
                if self.notify.notify(*fields):
                    self.pings += 1
            self._last_problems = problems


class WriterProgress:
    """Whether the historian writer makes progress (condition 2 of the module doc), from public counters."""

    def __init__(self, pending: Callable[[], int], done: Callable[[], int], healthy: Callable[[], bool],
                 stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._pending = pending
        self._done = done
        self._healthy = healthy
        self.stall_s = stall_s
        self._clock = clock
        self._last_done = -1
        self._since = clock()

    def problem(self) -> str | None:
        now = self._clock()
        done = self._done()
        if done != self._last_done or self._pending() == 0 or not self._healthy():
            self._last_done = done
            self._since = now
            return None
        stalled = now - self._since
        if stalled > self.stall_s:
            return (f"the historian writer has made no progress for {stalled:.0f} s with {self._pending()} rows "
                    "queued")
        return None
