"""Store-and-forward: one loop per northbound sink, reading the historian from its own cursor.

The cursor is the seq of the last sample the peer acknowledged, persisted in
the historian. A batch is read after the cursor, sent, and the cursor moves
only when `send` returned: an outage stalls the cursor (retention keeps what
it protects), a crash or restart resends at most the one unacknowledged
batch, and order is the historian's insertion order. With a backlog the loop
sends batch after batch at full speed; when caught up it sleeps until the
next commit. A sink that can encode in another process gets its batches read
and encoded by a worker process (gateway.forward_worker), so the gateway's
interpreter only posts them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal, cast

from prometheus_client import CollectorRegistry, Counter, Gauge

from connectors.backoff import Backoff
from connectors.base import ForwardSink, PreparesBatches, TransientError
from connectors.batch import EncodedBatch, EncodesInWorker, RecordBatch
from connectors.ratelimit import RateLimitedLog
from connectors.sample import now_ns
from gateway.forward_worker import ForwardWorker
from gateway.historian import Historian

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForwarderSettings:
    batch_size: int = 5000
    start_from: Literal["earliest", "latest"] = "earliest"
    historical_after_s: float = 10.0  # a sample sent later than this after it arrived is a replay
    idle_wait_s: float = 1.0  # upper bound on the sleep between an empty read and the next
    retry_initial_s: float = 0.5
    retry_max_s: float = 5.0  # a down peer gets one small request per 5 s; recovery is seen within 5 s
    # read and encode in a worker process when the sink can (connectors.batch.EncodesInWorker)
    worker_process: bool = True


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
    worker_pid: int | None = None  # the process reading and encoding for it (None: the gateway's own)


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
    def __init__(self, name: str, sink: ForwardSink, historian: Historian, settings: ForwarderSettings | None = None,
                 metrics: ForwarderMetrics | None = None) -> None:
        self.name = name
        self.sink = sink
        self.historian = historian
        self.settings = settings or ForwarderSettings()
        self.health = ForwarderHealth(name)
        metrics = metrics or ForwarderMetrics()
        self._m_sent = metrics.sent.labels(name)
        self._m_dead = metrics.dead.labels(name)
        self._dead_log = RateLimitedLog(log)  # a peer refusing every batch: one line a minute, with the count
        self._m_retries = metrics.retries.labels(name)
        self._m_lag = metrics.lag.labels(name)
        self._prepares = isinstance(sink, PreparesBatches)
        encoder = sink.batch_encoder() if self.settings.worker_process and isinstance(sink, EncodesInWorker) else None
        self._worker = None if encoder is None else ForwardWorker(
            name, historian.settings.path, historian.settings.synchronous, encoder)

    async def start_worker(self) -> None:
        """Start the worker process, if the forwarder has one, before the first read (run() does it too)."""
        if self._worker is not None and self._worker.pid is None:
            await self._worker.start()
            self.health.worker_pid = self._worker.pid

    async def run(self) -> None:
        s = self.settings
        await self.sink.start()
        await self.start_worker()
        cursor = await self.historian.get_cursor(self.name)
        if cursor is None:
            cursor = 0 if s.start_from == "earliest" else await self.historian.max_seq()
            await self.historian.set_cursor(self.name, cursor)
            log.info("forwarder %s: new cursor at seq %d (%s)", self.name, cursor, s.start_from)
        self.health.cursor = cursor
        backoff = Backoff(s.retry_initial_s, s.retry_max_s)
        ahead: asyncio.Task[RecordBatch | EncodedBatch] | None = None
        try:
            batch = await self._read(cursor)
            while True:
                if not batch:
                    self.health.state = "forwarding"
                    self._set_lag(0)
                    await self.historian.wait_for_commit(s.idle_wait_s)
                    batch = await self._read(cursor)
                    continue
                # read (and prepare) the next batch while this one is on the wire: with a backlog, the peer
                # never waits on us
                ahead = asyncio.create_task(self._read(batch.last_seq))
                try:
                    await self._send(batch)
                except TransientError as e:
                    ahead.cancel()
                    delay = e.retry_after_s if e.retry_after_s is not None else backoff.next_delay()
                    self._note_retry(str(e), delay)
                    await asyncio.sleep(delay)
                    continue
                backoff.reset()
                cursor = batch.last_seq
                full = len(batch) == s.batch_size
                batch = await ahead
                ahead = None
                # caught up: the lag is what arrived meanwhile, read next time
                self._set_lag(max(0, await self.historian.max_seq() - cursor) if full else 0)
        finally:
            if ahead is not None:
                ahead.cancel()
            self.health.state = "stopped"
            if self._worker is not None:
                await self._worker.close()
                self.health.worker_pid = None
            await self.sink.close()

    async def _read(self, after: int) -> RecordBatch | EncodedBatch:
        if self._worker is not None and self.historian.is_open:  # closed: read_batch below says so
            encoded = await self._worker.read(after, self.settings.batch_size, self.historian.batch_between)
            self.health.worker_pid = self._worker.pid
            if encoded is not None:
                return encoded
        batch = await self.historian.read_batch(after, self.settings.batch_size)
        if batch and self._prepares:
            await cast(PreparesBatches, self.sink).prepare(batch)
        return batch

    async def _send(self, records: RecordBatch | EncodedBatch) -> None:
        historical_before = now_ns() - int(self.settings.historical_after_s * 1e9)
        result = await self.sink.send(records, historical_before)
        if result.delivered + len(result.rejected) != len(records):
            # a sink bug must not move the cursor past data the peer never saw
            raise TransientError(f"sink accounted for {result.delivered + len(result.rejected)} of "
                                 f"{len(records)} records")
        if result.rejected:
            await self.historian.add_dead_letters(self.name, result.rejected)
            self.health.dead_letters += len(result.rejected)
            self._m_dead.inc(len(result.rejected))
            self._dead_log.error("dead letters", "forwarder %s: the peer refused samples for good, filed as dead "
                                 "letters (latest: %s)", self.name, result.rejected[0][1], count=len(result.rejected))
        self._dead_log.flush()
        await self.historian.set_cursor(self.name, records.last_seq)
        if self.health.state == "retrying":
            log.info("forwarder %s: peer reachable again after %d retries; catching up", self.name,
                     self.health.retries)
        self.health.state = "forwarding"
        self.health.cursor = records.last_seq
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

