"""Is a gateway running on this data directory? A lock file the gateway holds while it runs.

The gateway takes a shared ``flock`` on ``<data dir>/gateway.lock`` when it starts and keeps it until
it exits (the kernel drops it if the process dies, so a crash leaves no stale lock). A restore takes
the lock exclusively without waiting: if that fails, a gateway runs on the data and the restore
refuses. The report asks the same question (is the current run still going?). The file holds the
pid of the last gateway that started, for messages only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "gateway.lock"


class RunLock:
    """Held (shared) by a running gateway."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"{self.path.parent} is being restored (its lock is held exclusively); "
                               "start the gateway when the restore is done") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def running_pid(data_dir: Path) -> int | None:
    """The pid of a gateway running on `data_dir` (0 if one runs but its pid is unknown), else None."""
    path = Path(data_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Hold the data directory exclusively (no gateway may start meanwhile); raises if one runs."""
    path = Path(data_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise RuntimeError(f"a gateway is running on {data_dir} (pid {text or 'unknown'}): stop it first "
                               "(systemctl stop aas-gateway)") from None
        yield
    finally:
        os.close(fd)
