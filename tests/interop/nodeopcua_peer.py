"""Start, drive and stop the independent OPC UA server (tests/interop/nodeopcua/server.js) from Python.

The server is a node-opcua process installed by scripts/install-test-peers into .peers/nodeopcua/ (a
node 22 binary and node-opcua, both from the npm registry, pinned by package-lock.json). It talks JSON
lines: a "ready" line with its endpoint, then one reply per command and events such as "run-done".

Used by the interop tests (through the fixtures in tests/interop/conftest.py) and by
benchmarks/ingest.py, so it is synchronous (a reader thread); async callers use the `a*` methods,
which wait in a worker thread and never block the event loop the gateway runs in.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = Path(__file__).resolve().parent / "nodeopcua"
PEERS = ROOT / ".peers" / "nodeopcua"
NODE = PEERS / "node_modules" / ".bin" / "node"
VALUES: dict[str, Any] = json.loads((SERVER_DIR / "values.json").read_text(encoding="utf-8"))
NAMESPACE: str = VALUES["namespace"]


class PeerError(RuntimeError):
    """The server did not start, or refused a command."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def installed() -> bool:
    return NODE.exists() and (PEERS / "node_modules" / "node-opcua" / "package.json").exists()


class NodeOpcuaServer:
    """One server process; `restart()` starts a new one on the same port with the same PKI (same certificate)."""

    namespace_uri = NAMESPACE

    def __init__(self, pki: Path, *, port: int | None = None, users: dict[str, str] | None = None,
                 counters: int = 10, counter_start: int = 0, scale: int = 0, types: bool = True,
                 start_timeout: float = 60.0) -> None:
        self.pki = pki
        self.port = port or free_port()
        self.users = users or {}
        self.counters = counters
        self.counter_start = counter_start
        self.scale = scale
        self.types = types
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.stopped: dict[str, Any] | None = None  # the server's last words: what it offered in total
        self.started_ns = 0  # wall-clock time the process was started: no timestamp it sends is older
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stderr: list[str] = []

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return str(self.ready.get("endpoint", f"opc.tcp://127.0.0.1:{self.port}/"))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def certificate_pem(self) -> Path:
        return Path(self.ready["certificate"])

    def start(self, **changes: Any) -> NodeOpcuaServer:
        """Start the process (changes: counter_start=..., etc. for a restart) and wait for its ready line."""
        if not installed():
            raise PeerError(f"node-opcua is not installed in {PEERS}: run ./scripts/install-test-peers")
        for k, v in changes.items():
            setattr(self, k, v)
        args = [str(NODE), str(SERVER_DIR / "server.js"), "--port", str(self.port), "--pki", str(self.pki),
                "--counters", str(self.counters), "--counter-start", str(self.counter_start),
                "--scale", str(self.scale)]
        for user, password in self.users.items():
            args += ["--user", f"{user}:{password}"]
        if not self.types:
            args.append("--no-types")
        env = {**os.environ, "NODE_PATH": str(PEERS / "node_modules")}
        self.stopped = None
        self._events = queue.Queue()
        self.started_ns = time.time_ns()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=SERVER_DIR)
        first: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, first), daemon=True).start()
        threading.Thread(target=self._drain_stderr, args=(self.proc,), daemon=True).start()
        try:
            msg = first.get(timeout=self.start_timeout)
        except queue.Empty:
            self.kill()
            raise PeerError(f"node-opcua server did not report ready within {self.start_timeout:.0f} s; "
                            f"stderr: {''.join(self._stderr[-20:])}") from None
        if not msg.get("ready"):
            self.kill()
            raise PeerError(f"node-opcua server failed to start: {msg.get('error', msg)}; "
                            f"stderr: {''.join(self._stderr[-20:])}")
        self.ready = msg
        return self

    def _read(self, proc: subprocess.Popen[str], first: queue.Queue[dict[str, Any]]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue  # node-opcua may print warnings of its own
            msg = json.loads(line)
            if "ready" in msg or ("error" in msg and "id" not in msg):
                first.put(msg)
            elif "event" in msg:
                if msg["event"] == "stopped":
                    self.stopped = msg
                self._events.put(msg)
            elif "id" in msg:
                with self._lock:
                    q = self._replies.get(msg["id"])
                if q is not None:
                    q.put(msg)
        first.put({"error": f"server exited with code {proc.wait()}"})

    def _drain_stderr(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    def stop(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """Shut the server down (SIGTERM: it closes its sessions and reports what it offered); returns that."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return self.stopped
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        deadline = time.monotonic() + 2
        while self.stopped is None and time.monotonic() < deadline:  # the reader may still be parsing it
            time.sleep(0.01)
        return self.stopped

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self, **changes: Any) -> dict[str, Any] | None:
        """Stop, then start again on the same port and PKI folder; returns what the old process offered."""
        offered = self.stop()
        self.start(**changes)
        return offered

    # --- commands --------------------------------------------------------------------------

    def command(self, cmd: str, timeout: float = 30.0, **kw: Any) -> dict[str, Any]:
        proc = self.proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            raise PeerError(f"server not running (command {cmd})")
        msg_id = next(self._ids)
        q: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._replies[msg_id] = q
        try:
            proc.stdin.write(json.dumps({"cmd": cmd, "id": msg_id, **kw}) + "\n")
            proc.stdin.flush()
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise PeerError(f"no reply to {cmd} within {timeout:.0f} s") from None
        finally:
            with self._lock:
                self._replies.pop(msg_id, None)
        if not reply.get("ok"):
            raise PeerError(f"{cmd} refused: {reply.get('error')}")
        return reply

    def wait_event(self, event: str, timeout: float = 120.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerError(f"no {event} event within {timeout:.0f} s")
            try:
                msg = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if msg.get("event") == event and all(msg.get(k) == v for k, v in match.items()):
                return msg

    def run(self, group: str, changes: int, rate_hz: float) -> int:
        """Start `changes` value changes of every variable of `group` at `rate_hz`; returns the command id."""
        return int(self.command("run", group=group, changes=changes, rate_hz=rate_hz)["id"])

    def run_and_wait(self, group: str, changes: int, rate_hz: float, timeout: float | None = None) -> dict[str, Any]:
        run_id = self.run(group, changes, rate_hz)
        return self.wait_event("run-done", timeout or 60 + 2 * changes / rate_hz, id=run_id)

    def counts(self) -> dict[str, Any]:
        return self.command("counts")

    # async forms for tests: the waiting happens in a worker thread

    async def astart(self, **changes: Any) -> NodeOpcuaServer:
        return await asyncio.to_thread(self.start, **changes)

    async def astop(self) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.stop)

    async def arestart(self, **changes: Any) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.restart, **changes)

    async def acommand(self, cmd: str, **kw: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.command, cmd, **kw)

    async def arun_and_wait(self, group: str, changes: int, rate_hz: float) -> dict[str, Any]:
        return await asyncio.to_thread(self.run_and_wait, group, changes, rate_hz)
