"""Peers for the InfluxDB sink tests: a real VictoriaMetrics, and a scripted fake for error paths.

`start_victoria_metrics` / `stop_victoria_metrics` and the `victoria_metrics`
fixture depend on nothing else in this directory so they can move to a shared
conftest when other tests need a line-protocol TSDB. VictoriaMetrics never
answers a write with 4xx/429/5xx on its own (it skips bad lines with 204),
so `FakeInflux` plays those answers as a pure HTTP peer.
"""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

VICTORIA_METRICS = "/usr/bin/victoria-metrics"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_victoria_metrics(tmp_path: Path, port: int | None = None,
                           timeout: float = 20.0) -> tuple[str, subprocess.Popen[bytes]]:
    """Start VictoriaMetrics on loopback with its data under `tmp_path`; return (base URL, process).

    Calling it again with the same `tmp_path` and `port` restarts the same database.
    """
    port = port or free_port()
    data = tmp_path / "victoria-metrics"
    data.mkdir(parents=True, exist_ok=True)
    log = (tmp_path / "victoria-metrics.log").open("ab")
    proc = subprocess.Popen(
        [VICTORIA_METRICS, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}",
         "-retentionPeriod=100y",  # tests write timestamps from years ago
         "-search.latencyOffset=0s", "-loggerLevel=WARN"],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"victoria-metrics exited with {proc.returncode}; see {tmp_path}/victoria-metrics.log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                if resp.status == 200:
                    return url, proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_victoria_metrics(proc)
            raise RuntimeError(f"victoria-metrics did not answer /health within {timeout} s")
        time.sleep(0.05)


def stop_victoria_metrics(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class VictoriaMetrics:
    tmp_path: Path
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port or 0)

    def stop(self) -> None:
        stop_victoria_metrics(self.proc)

    def restart(self) -> None:
        self.stop()
        self.url, self.proc = start_victoria_metrics(self.tmp_path, self.port)

    def export(self, match: str = '{__name__!=""}') -> list[dict[str, Any]]:
        """All stored samples of the matching series (JSON lines of /api/v1/export)."""
        # fresh rows become searchable only after an in-memory flush (seconds): force it
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass
        body = urllib.parse.urlencode({"match[]": match}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/export", data=body, timeout=10) as resp:
            return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    url, proc = start_victoria_metrics(tmp_path)
    vm = VictoriaMetrics(tmp_path, url, proc)
    yield vm
    vm.stop()


# --- a scripted /api/v2/write peer --------------------------------------------------------------

Reply = tuple[int, dict[str, str], str]


@dataclass
class FakeInflux:
    """Answers each write with `respond(lines)`; keeps what it accepted (204) and every request."""

    respond: Callable[[list[str]], Reply] = field(default=lambda lines: (204, {}, ""))
    accepted: list[str] = field(default_factory=list)
    requests: list[list[str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeInflux) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            lines = raw.decode().split("\n") if raw else []
            fake.requests.append(lines)
            fake.headers.append(dict(self.headers.items()))
            status, headers, body = fake.respond(lines)
            if status == 204:
                fake.accepted.extend(lines)
            payload = body.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) leaves a broken pipe: expected here


@pytest.fixture
def fake_influx() -> Iterator[FakeInflux]:
    fake = FakeInflux()
    server = _QuietServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def influx_error(message: str) -> str:
    """An error body in InfluxDB 2's shape."""
    return json.dumps({"code": "invalid", "message": message})
