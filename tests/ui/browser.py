"""Debian's Chromium driven by Playwright (no browser download), and `aas-gateway demo` as the server.

`scripts/install-test-peers` apt-installs `chromium`; Playwright's Python package brings only its driver.
The launch flags keep Chromium off the network (this machine has none besides loopback) and
sandbox-free as root.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.secrets import secret

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_KEY = re.compile(r"agw_[A-Za-z0-9]+_[A-Za-z0-9_-]+")


@dataclass
class Demo:
    base: str  # http://127.0.0.1:PORT
    data: Path
    proc: subprocess.Popen[str]
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, role: str) -> str:
        if role not in self.keys:
            out = subprocess.run([shutil.which("aas-gateway") or "aas-gateway", "apikey", "--keys-file",
                                  str(self.data / "api-keys.json"), "create", "--role", role, "--name", f"ui-{role}"],
                                 capture_output=True, text=True, check=True).stdout
            m = _KEY.search(out)
            assert m, "apikey create prints the key"
            self.keys[role] = secret(m.group(0))
        return self.keys[role]


@contextmanager
def run_demo(data: Path, timeout_s: float = 120) -> Iterator[Demo]:
    exe = shutil.which("aas-gateway")
    assert exe, "the console script is installed"
    proc = subprocess.Popen([exe, "demo", "--data-dir", str(data), "--port", "0", "--status-every", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    base = None
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/api/v3\.0", line)
            if m and "AAS API" in line:
                base = m.group(1)
                break
        assert base, "the demo did not print its API URL:\n" + "".join(lines)
        # keep draining its output so that it never blocks on a full pipe
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        yield Demo(base, data, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
