"""What every benchmark records about the machine it ran on, so its figures can be read later."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def package_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def debian_version(name: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def machine_info(packages: Iterable[str] = (), debian: Iterable[str] = ()) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if packages:
        info["packages"] = {n: package_version(n) for n in packages}
    if debian:
        info["debian"] = {n: debian_version(n) for n in debian}
    return info


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def wait_quiet(max_wait: float, limit_cores: float = 0.25) -> float:
    """Wait (up to max_wait s) until the machine is idle over one second; returns the busy cores last seen.

    Benchmarks share the machine with whatever else runs on it; other load lowers the figures, so each
    measurement starts on a quiet machine if it can, and the load seen is recorded either way."""
    deadline = time.monotonic() + max_wait
    while True:
        b0 = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - b0
        if busy <= limit_cores or time.monotonic() >= deadline:
            return round(busy, 2)
