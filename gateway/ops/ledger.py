"""The operation-rate ledger: what the gateway itself did, kept for years, hash-chained.

The factory program scores the solution's operation rate and asks for it to be reported for three
years, so the gateway keeps its own books, in ``<data dir>/ledger/ledger.jsonl`` (a chained log,
`gateway.ops.chainlog`: rotated monthly, retained `ledger.retention_days`, independent of the
historian's sample retention). Records, one JSON object per line:

- ``start`` (a run began: `at`, pid, version, the sources with their points and the forwarders) and
  ``stop`` (a clean stop);
- ``crash``: written at the next start when the previous run left no ``stop``: the run was down from
  its last heartbeat (`last_alive`). The gateway rewrites ``heartbeat.json`` beside the ledger every
  `heartbeat_s` (5 s), so a crash's downtime is known to within that;
- ``state``: a source's connection state or a forwarder's delivery state changed, at the exact time
  the connector or forwarder noted it (`at`);
- ``counts``: per source, over [`from`, `to`) of gateway running time (flushed at every UTC hour, every
  midnight of `ledger.timezone`, at stop, and recovered from the heartbeat after a crash): the
  sampling instants *expected* and *received*, and the samples stored;
- ``anchor``: the audit log's chain head, noted once a day (ties the two logs together).

**Completeness, honestly.** OPC UA reports by exception: a subscription sends a value when it
changes (beyond a deadband), and the gateway's polling stores only changed values too. So counting
stored samples against a sampling interval would call a steady value "missing". What is counted
instead are *sampling instants*: a point is expected to hold a valid value at every sampling
interval of the gateway's running time (subscription: the point's sampling interval, 0 meaning the
source's publishing interval; poll: its poll interval; MQTT, which has no interval: once a second),
and an instant is *received* when the point's latest value from its machine is not Bad. A point is
missing from the moment a Bad status arrives (BadNotConnected when the connection drops,
BadNodeIdUnknown, a server's Bad quality) and from gateway start until its first value; the server's
keep-alives (subscription) or successful reads (poll) confirm an unchanged value. Completeness =
received / expected, weighted by each point's rate. Stored samples are counted beside it.

Recording costs the data path one dict lookup and one comparison per sample (`put`); everything
that touches the disk runs in a thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import ConnectionState, SourceHealth
from connectors.sample import Sample, ns_to_iso, point_id
from gateway.ops.chain import last_chained
from gateway.ops.chainlog import ChainedLog, LogSettings, parse_ts, rotated_files
from gateway.ops.checkpoint import LogSigner
from gateway.ops.ledger_config import HEARTBEAT_FILE, LEDGER_DIR, LEDGER_FILE, LedgerConfig

if TYPE_CHECKING:
    from gateway.config import AssetConfig, GatewayConfig

log = logging.getLogger(__name__)

BAD = 0x80000000
NS = 1_000_000_000
FORWARDER_UP = "forwarding"  # ForwarderHealth.state while it delivers
SOURCE_UP = ConnectionState.CONNECTED.value


def _iso(ns: int) -> str:
    return ns_to_iso(ns)


def point_rates(asset: AssetConfig) -> dict[str, float]:
    """Sampling instants per second of each point of an asset (see the module doc), as its connector says."""
    rate = asset.connector.expected_rate
    return {point_id(asset.id_short, p.submodel, p.path): rate(asset.source, p) if rate is not None else 1.0
            for p in asset.points}


def source_mode(asset: AssetConfig) -> str:
    """How a source delivers, for the report: OPC UA's `mode` (subscription, poll), else the connector type."""
    mode = getattr(asset.source, "mode", None)
    return mode if isinstance(mode, str) else asset.source.type


@dataclass(slots=True)
class _Point:
    rate: float
    source: _Coverage
    bad: bool = True  # no value yet counts as missing


@dataclass(slots=True)
class _Coverage:
    """One source's sampling instants: integrated over time as its points turn valid and invalid."""

    rate_total: float
    since_ns: int
    rate_bad: float = 0.0
    missing: float = 0.0  # instants missed since `since_ns` (up to `last_ns`)
    last_ns: int = 0
    samples: int = 0

    def advance(self, now: int) -> None:
        if now > self.last_ns:
            self.missing += self.rate_bad * (now - self.last_ns) / NS
            self.last_ns = now

    def take(self, now: int) -> dict[str, Any]:
        """The counts since the last take, and start afresh at `now`."""
        self.advance(now)
        expected = self.rate_total * (now - self.since_ns) / NS
        out = {"expected": round(expected, 3), "received": round(max(0.0, expected - self.missing), 3),
               "samples": self.samples}
        self.since_ns = now
        self.missing = 0.0
        self.samples = 0
        return out

    def peek(self, now: int) -> dict[str, Any]:
        expected = self.rate_total * (now - self.since_ns) / NS
        missing = self.missing + self.rate_bad * max(0, now - self.last_ns) / NS
        return {"expected": round(expected, 3), "received": round(max(0.0, expected - missing), 3),
                "samples": self.samples}


@dataclass
class Recovered:
    """What the start found about the previous run."""

    crashed: bool = False
    last_alive_ns: int | None = None
    previous_run: str | None = None


@dataclass
class LedgerPaths:
    dir: Path
    current: Path
    heartbeat: Path

    @classmethod
    def of(cls, data_dir: Path) -> LedgerPaths:
        d = Path(data_dir) / LEDGER_DIR
        return cls(d, d / LEDGER_FILE, d / HEARTBEAT_FILE)


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def last_record(current: Path) -> dict[str, Any] | None:
    rec = last_chained(current)
    if rec is None:
        for r in reversed(rotated_files(current)):
            rec = last_chained(r.path)
            if rec is not None:
                break
    return rec


@dataclass
class _Pending:
    records: list[dict[str, Any]] = field(default_factory=list)


class Ledger:
    """Records one run of the gateway. `open` and everything named *_sync block (run them in a thread)."""

    def __init__(self, cfg: GatewayConfig, signer: LogSigner | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.cfg: LedgerConfig = cfg.ledger
        self.paths = LedgerPaths.of(cfg.historian.path.parent)
        self.signer = signer
        self.clock = clock
        self.run = uuid.uuid4().hex[:16]
        self.log: ChainedLog | None = None
        self.started_ns = 0
        self.sources: dict[str, _Coverage] = {}
        self._points: dict[str, _Point] = {}
        self._modes = {a.id_short: source_mode(a) for a in cfg.assets}
        self._rates = {a.id_short: point_rates(a) for a in cfg.assets}
        self.forwarders = [f.name for f in cfg.forwarders]
        self.states: dict[str, str] = {}  # entity -> last recorded state
        self._queue: list[dict[str, Any]] = []  # state changes noted on the loop, written by the ledger task
        self.recovered = Recovered()

    # --- lifecycle (blocking) --------------------------------------------------------------

    def open(self) -> Recovered:
        """Recover the previous run's end and write this run's start."""
        self.log = ChainedLog(self.paths.current, LogSettings(self.cfg.retention_days, self.cfg.max_file_mb,
                                                              self.cfg.max_file_days), self.signer)
        hb = read_heartbeat(self.paths.heartbeat)
        last = last_record(self.paths.current)
        if last is not None and last.get("kind") != "stop":
            run = last.get("run")
            alive = parse_ts(str(last.get("ts"))) if last.get("ts") else None
            alive_ns = int(alive.timestamp() * NS) if alive else None
            if hb is not None and hb.get("run") == run and isinstance(hb.get("at_ns"), int):
                alive_ns = max(alive_ns or 0, hb["at_ns"])
                if isinstance(hb.get("counts"), dict) and hb["counts"].get("sources"):
                    self.log.append({"kind": "counts", "run": run, "recovered": "heartbeat", **hb["counts"]})
            self.recovered = Recovered(True, alive_ns, run)
            self.log.append({"kind": "crash", "run": run, "last_alive": _iso(alive_ns) if alive_ns else None,
                             "detail": "the run ended without a stop record (killed, crashed or power lost); it was "
                                       "down from its last sign of life"})
            log.warning("operation ledger: the previous run (%s) ended without stopping; down since %s", run,
                        _iso(alive_ns) if alive_ns else "unknown")
        now = self.clock()
        self.started_ns = now
        for asset, rates in self._rates.items():
            cov = _Coverage(sum(rates.values()), now, last_ns=now)
            cov.rate_bad = cov.rate_total  # nothing received yet
            self.sources[asset] = cov
            for pid, rate in rates.items():
                self._points[pid] = _Point(rate, cov)
        self.log.append({"kind": "start", "run": self.run, "at": _iso(now), "pid": os.getpid(),
                         "host": socket.gethostname(), "version": _version(),
                         "sources": {a: {"mode": self._modes[a], "points": len(r),
                                         "rate_per_s": round(sum(r.values()), 6)} for a, r in self._rates.items()},
                         "forwarders": self.forwarders})
        self.write_heartbeat_sync(now)
        return self.recovered

    def close_sync(self) -> None:
        """Final counts and the stop record; the heartbeat says the run stopped cleanly."""
        if self.log is None:
            return
        now = self.clock()
        self.flush_sync(self.take_states())
        self.log.append(self.counts_record(now))
        self.log.append({"kind": "stop", "run": self.run, "at": _iso(now)})
        self.write_heartbeat_sync(now, stopped=True)
        self.log.close()
        self.log = None

    # --- on the event loop ------------------------------------------------------------------

    def put(self, samples: Sequence[Sample]) -> None:
        """Per sample: is its point valid now? (integrates the source's missing instants on each change)."""
        points = self._points
        now = 0
        for s in samples:
            p = points.get(s.point)
            if p is None:
                continue
            cov = p.source
            cov.samples += 1
            bad = (s.status & BAD) != 0
            if bad != p.bad:
                if not now:
                    now = self.clock()
                cov.advance(now)
                cov.rate_bad += p.rate if bad else -p.rate
                p.bad = bad

    def note_source(self, h: SourceHealth) -> None:
        """A source's connection state changed (called by the connector at the transition)."""
        self._note(f"source:{h.name}", h.state.value, h.state_since_ns or self.clock())

    def note_forwarder(self, name: str, state: str, at_ns: int | None = None) -> None:
        self._note(f"forwarder:{name}", state, at_ns or self.clock())

    def _note(self, entity: str, state: str, at_ns: int) -> None:
        # only a change between up and not up is a record: a source retrying its connection flips between
        # connecting and disconnected every few seconds, which says nothing the ledger needs
        up = state == (SOURCE_UP if entity.startswith("source:") else FORWARDER_UP)
        if entity in self.states and (self.states[entity] == SOURCE_UP or self.states[entity] == FORWARDER_UP) == up:
            return
        if entity not in self.states and not up:
            self.states[entity] = state  # a run starts with everything not up yet
            return
        self.states[entity] = state
        self._queue.append({"kind": "state", "run": self.run, "entity": entity, "state": state, "at": _iso(at_ns)})

    def take_states(self) -> list[dict[str, Any]]:
        out, self._queue = self._queue, []
        return out

    def counts_record(self, now: int) -> dict[str, Any]:
        since = min((c.since_ns for c in self.sources.values()), default=now)
        return {"kind": "counts", "run": self.run, "from": _iso(since), "to": _iso(now),
                "sources": {a: c.take(now) for a, c in self.sources.items()}}

    def heartbeat_doc(self, now: int, stopped: bool = False) -> dict[str, Any]:
        since = min((c.since_ns for c in self.sources.values()), default=now)
        return {"run": self.run, "at_ns": now, "ts": _iso(now), "stopped": stopped, "pid": os.getpid(),
                "counts": {"from": _iso(since), "to": _iso(now),
                           "sources": {a: c.peek(now) for a, c in self.sources.items()}} if not stopped else None}

    # --- blocking writes ----------------------------------------------------------------------

    def flush_sync(self, records: Sequence[dict[str, Any]]) -> None:
        if self.log is None:
            return
        for rec in records:
            self.log.append(rec)

    def write_heartbeat_sync(self, now: int, stopped: bool = False, doc: dict[str, Any] | None = None) -> None:
        """Atomically replace heartbeat.json (write, fsync, rename): a crash leaves the old or the new one."""
        data = (json.dumps(doc or self.heartbeat_doc(now, stopped)) + "\n").encode()
        path = self.paths.heartbeat
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def append_sync(self, record: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.append({**record, "run": self.run})

    def head(self) -> tuple[int, str] | None:
        if self.log is None:
            return None
        h = self.log.head()
        return h.seq, h.hash


def forwarder_states(forwarders: Sequence[Any]) -> Mapping[str, str]:
    """name -> delivery state of each forwarder (gateway.forwarder.Forwarder.health.state)."""
    return {f.name: f.health.state for f in forwarders}


def _version() -> str:
    with contextlib.suppress(Exception):
        from gateway import __version__

        return str(__version__)
    return "unknown"


def utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)
