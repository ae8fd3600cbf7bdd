"""Store-and-forward: one loop per northbound sink, reading the historian from its own cursor.

The cursor is the seq of the last sample the peer acknowledged, persisted in
the historian. A batch is read after the cursor, sent, and the cursor moves
only when `send` returned: an outage stalls the cursor (retention keeps what
it protects), a crash or restart resends at most the one unacknowledged
batch, and order is the historian's insertion order. With a backlog the loop
sends batch after batch at full speed; when caught up it sleeps until the
next commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

from connectors.backoff import Backoff
from connectors.base import Record, Sink, TransientError
from connectors.sample import now_ns
from gateway.historian import Historian
from gateway.historian.records import StoredSample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForwarderSettings:
    batch_size: int = 5000
    start_from: Literal["earliest", "latest"] = "earliest"
    historical_after_s: float = 10.0  # a sample sent later than this after it arrived is a replay
    idle_wait_s: float = 1.0  # upper bound on the sleep between an empty read and the next
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0


@dataclass
class ForwarderHealth:
    name: str
    state: str = "starting"  # starting | forwarding | retrying | stopped
    cursor: int = 0
    lag: int = 0  # committed samples not yet acknowledged
    sent: int = 0
    dead_letters: int = 0
    retries: int = 0
    last_error: str | None = None
    last_ack_ns: int | None = None


class ForwarderMetrics:
    """One set of metric families per registry, labelled by forwarder name."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.sent = Counter("gateway_forwarder_sent", "Samples acknowledged by the peer", ["forwarder"],
                            registry=registry)
        self.dead = Counter("gateway_forwarder_dead_letters", "Samples the peer refused for good", ["forwarder"],
                            registry=registry)
        self.retries = Counter("gateway_forwarder_retries", "Failed sends retried", ["forwarder"], registry=registry)
        self.lag = Gauge("gateway_forwarder_lag", "Committed samples not yet acknowledged", ["forwarder"],
                         registry=registry)


class Forwarder:
    def __init__(self, name: str, sink: Sink, historian: Historian, settings: ForwarderSettings | None = None,
                 metrics: ForwarderMetrics | None = None) -> None:
        self.name = name
        self.sink = sink
        self.historian = historian
        self.settings = settings or ForwarderSettings()
        self.health = ForwarderHealth(name)
        metrics = metrics or ForwarderMetrics()
        self._m_sent = metrics.sent.labels(name)
        self._m_dead = metrics.dead.labels(name)
        self._m_retries = metrics.retries.labels(name)
        self._m_lag = metrics.lag.labels(name)

    async def run(self) -> None:
        s = self.settings
        await self.sink.start()
        cursor = await self.historian.get_cursor(self.name)
        if cursor is None:
            cursor = 0 if s.start_from == "earliest" else await self.historian.max_seq()
            await self.historian.set_cursor(self.name, cursor)
            log.info("forwarder %s: new cursor at seq %d (%s)", self.name, cursor, s.start_from)
        self.health.cursor = cursor
        backoff = Backoff(s.retry_initial_s, s.retry_max_s)
        try:
            while True:
                rows = await self.historian.read_since(cursor, s.batch_size)
                if not rows:
                    self.health.state = "forwarding"
                    self._set_lag(0)
                    await self.historian.wait_for_commit(s.idle_wait_s)
                    continue
                try:
                    await self._send(rows)
                except TransientError as e:
                    delay = e.retry_after_s if e.retry_after_s is not None else backoff.next_delay()
                    self._note_retry(str(e), delay)
                    await asyncio.sleep(delay)
                    continue
                backoff.reset()
                cursor = rows[-1].seq
                if len(rows) < s.batch_size:  # caught up: the lag is what arrived meanwhile, read next time
                    self._set_lag(0)
                else:
                    self._set_lag(max(0, await self.historian.max_seq() - cursor))
        finally:
            self.health.state = "stopped"
            await self.sink.close()

    async def _send(self, rows: list[StoredSample]) -> None:
        records = [Record(r.seq, r.to_sample()) for r in rows]
        historical_before = now_ns() - int(self.settings.historical_after_s * 1e9)
        result = await self.sink.send(records, historical_before)
        if result.delivered + len(result.rejected) != len(records):
            # a sink bug must not move the cursor past data the peer never saw
            raise TransientError(f"sink accounted for {result.delivered + len(result.rejected)} of "
                                 f"{len(records)} records")
        if result.rejected:
            by_seq = {r.seq: r for r in rows}
            await self.historian.add_dead_letters(self.name, [(by_seq[rec.seq], why) for rec, why in result.rejected])
            self.health.dead_letters += len(result.rejected)
            self._m_dead.inc(len(result.rejected))
            log.error("forwarder %s: the peer refused %d sample(s) for good, filed as dead letters (first: %s)",
                      self.name, len(result.rejected), result.rejected[0][1])
        await self.historian.set_cursor(self.name, rows[-1].seq)
        if self.health.state == "retrying":
            log.info("forwarder %s: peer reachable again after %d retries; catching up", self.name,
                     self.health.retries)
        self.health.state = "forwarding"
        self.health.cursor = rows[-1].seq
        self.health.sent += result.delivered
        self.health.last_ack_ns = time.time_ns()
        self.health.last_error = None
        self._m_sent.inc(result.delivered)

    def _note_retry(self, error: str, delay: float) -> None:
        if self.health.state != "retrying" or self.health.last_error != error:
            log.warning("forwarder %s: %s; data waits in the historian, retrying in %.1f s", self.name, error, delay)
        self.health.state = "retrying"
        self.health.last_error = error
        self.health.retries += 1
        self._m_retries.inc()

    def _set_lag(self, lag: int) -> None:
        self.health.lag = lag
        self._m_lag.set(lag)

