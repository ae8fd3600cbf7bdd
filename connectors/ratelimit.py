"""A logger wrapper that reports a repeated problem once per cause per interval, with a count.

A problem that can hit every sample (a value the historian refuses, a type mismatch, a bad timestamp)
must be visible without writing one line per sample: at 5,000 values/s that is hundreds of MB of log
an hour, and the line that matters scrolls away. Here the first occurrence of a cause is logged at
once; further occurrences within ``interval_s`` are only counted, and the count (with the latest
message) is logged by the next occurrence after the interval, or by ``flush()``, which owners call
from a loop they already run (and with ``force=True`` when they stop, so no count is left unsaid).

The number of causes tracked at once is bounded: past ``max_causes`` new causes are folded into one
"other causes" line, so a problem with a per-point cause cannot flood the log either. In connectors/
(not gateway/) because connectors use it too and must not import the gateway. Thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

_OTHER = ("ratelimit", "other causes")
_FLUSH_SCAN_S = 1.0  # flush() looks at its causes at most this often unless forced


@dataclass(slots=True)
class _Cause:
    last_logged: float
    level: int = logging.WARNING
    msg: str = ""
    args: tuple[Any, ...] = ()
    pending: int = 0  # occurrences counted since the last line


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval_s: float = 60.0, *, max_causes: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.max_causes = max_causes
        self._clock = clock
        self._causes: dict[Hashable, _Cause] = {}
        self._lock = threading.Lock()
        self._pending_causes = 0
        self._last_scan = clock()

    def log(self, level: int, cause: Hashable, msg: str, *args: Any, count: int = 1) -> None:
        """Report `count` occurrences of `cause`; `msg % args` describes the latest one."""
        now = self._clock()
        with self._lock:
            entry = self._causes.get(cause)
            if entry is None:
                if len(self._causes) >= self.max_causes:
                    self._prune(now)
                if len(self._causes) >= self.max_causes:
                    cause = _OTHER
                    entry = self._causes.get(cause)
                    msg, args = ("(more than %d causes at once: the rest are counted together) " + msg,
                                 (self.max_causes, *args))
            line: tuple[int, str, tuple[Any, ...], int, float | None]
            if entry is None:  # new cause: said at once
                self._causes[cause] = _Cause(now)
                line = (level, msg, args, count, None)
            elif now - entry.last_logged >= self.interval_s:
                total = entry.pending + count
                line = (level, msg, args, total, now - entry.last_logged)
                if entry.pending:
                    self._pending_causes -= 1
                entry.last_logged, entry.pending = now, 0
            else:  # counted, said later
                if not entry.pending:
                    self._pending_causes += 1
                entry.pending += count
                entry.level, entry.msg, entry.args = level, msg, args
                return
        self._emit(*line)

    def warning(self, cause: Hashable, msg: str, *args: Any, count: int = 1) -> None:
        self.log(logging.WARNING, cause, msg, *args, count=count)

    def error(self, cause: Hashable, msg: str, *args: Any, count: int = 1) -> None:
        self.log(logging.ERROR, cause, msg, *args, count=count)

    def flush(self, force: bool = False) -> None:
        """Log the counts of causes whose interval is over (all counts when `force`); cheap when nothing waits."""
        if not self._pending_causes and not force:
            return
        now = self._clock()
        if not force and now - self._last_scan < _FLUSH_SCAN_S:
            return
        lines = []
        with self._lock:
            self._last_scan = now
            for entry in self._causes.values():
                if entry.pending and (force or now - entry.last_logged >= self.interval_s):
                    lines.append((entry.level, entry.msg, entry.args, entry.pending, now - entry.last_logged))
                    entry.last_logged, entry.pending = now, 0
                    self._pending_causes -= 1
            self._prune(now)
        for line in lines:
            self._emit(*line)

    def _prune(self, now: float) -> None:
        # a cause whose interval is over and that has nothing to say would be logged afresh anyway
        stale = [c for c, e in self._causes.items() if not e.pending and now - e.last_logged >= self.interval_s]
        for c in stale:
            del self._causes[c]

    def _emit(self, level: int, msg: str, args: tuple[Any, ...], count: int, since: float | None) -> None:
        if since is None:
            suffix = f" [{count} occurrence(s); repeats are counted and logged at most every {self.interval_s:g} s]"
        else:
            suffix = f" [{count} occurrence(s) in the last {since:.0f} s]"
        if args:  # the suffix joins a %-format string
            self.logger.log(level, msg + suffix.replace("%", "%%"), *args)
        else:
            self.logger.log(level, msg + suffix)
