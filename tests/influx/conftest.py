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
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.influx.victoria import VictoriaMetrics, free_port, start_victoria_metrics, stop_victoria_metrics

__all__ = ["VictoriaMetrics", "free_port", "start_victoria_metrics", "stop_victoria_metrics"]


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
