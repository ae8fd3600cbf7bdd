"""A real VictoriaMetrics (Debian package) on loopback: the InfluxDB v2 write-API peer of the tests.

Used by the InfluxDB sink tests and the forwarding acceptance tests; `.ci/run` installs the package.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
