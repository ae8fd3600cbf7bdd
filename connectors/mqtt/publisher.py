"""Northbound MQTT publisher: the gateway's samples as JSON on a unified-namespace topic tree.

A `connectors.base.ForwardSink` driven by the cursor-based forwarder, so its one promise is about
acknowledgement: `send` returns only when the broker has acknowledged every message of the
batch (PUBACK / PUBCOMP; for QoS 0, when written to the socket). If the connection drops
first, `send` raises TransientError and the forwarder resends the whole batch: subscribers may
see a few messages twice (same `seq`), never a gap.

paho runs its own network thread (loop_start) and reconnects on its own; acknowledgements are
matched to batches by message id in that thread, and each batch wakes the event loop once.
Birth and death follow Sparkplug's idea: on every (re)connect the gateway and asset status
topics get a retained `online`; the last will (retained `offline`) covers a crash or a lost
link; `close` publishes a clean `offline`. Topics: `connectors.mqtt.topics`; payloads:
`connectors.mqtt.payload`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from connectors.base import ConnectionState, PointMeta, Record, SendResult, TransientError
from connectors.mqtt import payload as pl
from connectors.mqtt import topics
from connectors.mqtt.client import GatewayClient, connect_async, describe_reason, make_client, reason_failed
from connectors.mqtt.config import MqttPublisherConfig
from connectors.ratelimit import RateLimitedLog
from connectors.sample import now_ns

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 5.0
# PUBACK reason codes worth a retry of the whole batch; any other failure code rejects the message
_TRANSIENT_PUBACK = {0x80, 0x83, 0x89, 0x97}  # unspecified, implementation specific, server busy, quota exceeded
_MISSING = object()


@dataclass(slots=True)
class PublisherHealth:
    name: str
    broker: str
    state: ConnectionState = ConnectionState.CONNECTING
    state_since_ns: int = 0
    last_error: str | None = None
    connects: int = 0
    reconnects: int = 0
    published: int = 0  # value messages handed to the broker connection
    acked: int = 0  # of those, acknowledged by the broker (QoS 0: written); status messages not counted
    delivered: int = 0  # records reported delivered to the forwarder
    rejected: int = 0  # records the broker refused for good (PUBACK failure codes)


@dataclass(eq=False, slots=True)
class _Batch:
    """Acknowledgement bookkeeping of one `send`; touched by both threads, under the publisher's lock."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    remaining: int = 0
    sealed: bool = False  # all messages published and registered
    mids: list[int] = field(default_factory=list)
    failures: list[tuple[int, ReasonCode]] = field(default_factory=list)  # (message index, reason)

    def settle_locked(self) -> None:
        if self.sealed and self.remaining == 0 and not self.future.done():
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _fail(fut: asyncio.Future[None], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class MqttPublisher:
    """A `connectors.base.ForwardSink` publishing records to one MQTT broker."""

    def __init__(self, name: str, cfg: MqttPublisherConfig, meta: Mapping[str, PointMeta], gateway_id: str) -> None:
        self.name = name
        self.cfg = cfg
        self._refused_log = RateLimitedLog(log)
        self.gateway_id = gateway_id
        self._meta = dict(meta)
        prefix = cfg.topic_prefix
        # topic names are checked once, here: a bad idShort is a configuration error, not a dropped message
        self._point_topics = {pid: topics.point_topic(prefix, m.asset, m.submodel, m.path) for pid, m in meta.items()}
        self._assets: dict[str, str] = {}
        for m in meta.values():
            self._assets.setdefault(m.asset, m.aas_id)
        self._batch_topics = {a: topics.asset_batch_topic(prefix, a) for a in self._assets}
        self._asset_status_topics = {a: topics.asset_status_topic(prefix, a) for a in self._assets}
        self._event_topics = {m.asset: topics.asset_events_topic(prefix, m.asset) for m in meta.values() if m.event}
        self.status_topic = topics.gateway_status_topic(prefix, cfg.status_topic, gateway_id)
        self._health = PublisherHealth(name=name, broker=cfg.broker.url, state_since_ns=now_ns())
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._closing = False
        self._logged_error: str | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[_Batch, int] | None] = {}  # mid -> (batch, message index); None = untracked
        self._early: dict[int, ReasonCode] = {}  # acks that beat their registration
        self._open: set[_Batch] = set()

    # --- ForwardSink ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        b = self.cfg.broker
        client = make_client(b, b.client_id_for(f"{self.gateway_id}-{self.name}"), self.name)
        client.will_set(self.status_topic, pl.status_payload("offline", self.gateway_id, None, "connection lost"),
                        qos=1, retain=True)
        client.max_inflight_messages_set(self.cfg.max_inflight)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        connect_async(client, b)
        client.loop_start()
        log.info("%s: publishing to %s under %r (QoS %d, %s payload)", self.name, b.url, self.cfg.topic_prefix,
                 self.cfg.qos, self.cfg.payload)

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        client, loop = self._client, self._loop
        if client is None or loop is None or self._closing:
            raise TransientError(f"{self.name}: publisher not started")
        if not self._connected:
            raise TransientError(f"{self.name}: not connected to {self.cfg.broker.url}"
                                 + (f": {self._health.last_error}" if self._health.last_error else ""))
        result = SendResult()
        batch = _Batch(loop, loop.create_future())
        with self._lock:
            self._open.add(batch)
        qos, retain = self.cfg.qos, self.cfg.retain

        def build_and_publish() -> list[tuple[str, bytes, list[Record]]]:
            # in a worker thread: thousands of json.dumps + publish calls must not stall the event loop
            # (the OPC UA sessions and the REST API live there); paho's publish is thread-safe.
            # Each message leaves as soon as it is built: the broker works while the rest is encoded.
            messages: list[tuple[str, bytes, list[Record]]] = []
            for index, message in enumerate(self._messages(records, historical_before_ns, result)):
                messages.append(message)
                info = client.publish(message[0], message[1], qos, retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    # NO_CONN: the link dropped mid-batch (paho keeps QoS>0 messages and sends them
                    # after reconnecting, so the retry may duplicate them: acceptable, a loss is not)
                    raise TransientError(f"{self.name}: publish to {self.cfg.broker.url} failed: "
                                         f"{mqtt.error_string(info.rc)}")
                self._register(batch, info.mid, index)
            return messages

        try:
            messages = await asyncio.to_thread(build_and_publish)
            if not messages:
                return result
            self._health.published += len(messages)
            with self._lock:
                batch.sealed = True
                batch.settle_locked()
            try:
                async with asyncio.timeout(self.cfg.ack_timeout_s):
                    await batch.future
            except TimeoutError:
                raise TransientError(f"{self.name}: {self.cfg.broker.url} did not acknowledge "
                                     f"{batch.remaining} of {len(messages)} message(s) within "
                                     f"{self.cfg.ack_timeout_s:.0f} s") from None
        finally:
            self._abandon(batch)
        transient = [(i, rc) for i, rc in batch.failures if rc.value in _TRANSIENT_PUBACK]
        if transient:
            raise TransientError(f"{self.name}: {self.cfg.broker.url} refused {len(transient)} message(s) for now: "
                                 f"{describe_reason(transient[0][1])}")
        refused = {i: rc for i, rc in batch.failures}
        for index, (topic, _, recs) in enumerate(messages):
            rc = refused.get(index)
            if rc is None:
                result.delivered += len(recs)
            else:
                result.rejected.extend((r, f"broker refused {topic}: {describe_reason(rc)}") for r in recs)
        if refused:
            self._refused_log.warning("refused", "%s: %s refused messages, e.g. %s", self.name, self.cfg.broker.url,
                                      result.rejected[0][1], count=len(refused))
        self._refused_log.flush()
        self._health.delivered += result.delivered
        self._health.rejected += len(result.rejected)
        return result

    async def close(self) -> None:
        client = self._client
        if client is None or self._closing:
            return
        self._closing = True
        if self._connected:
            ts = now_ns()
            infos = [client.publish(self.status_topic,
                                    pl.status_payload("offline", self.gateway_id, ts, "shutdown"), 1, True)]
            for asset, aas_id in self._assets.items():
                body = pl.status_payload("offline", self.gateway_id, ts, "shutdown", asset, aas_id)
                infos.append(client.publish(self._asset_status_topics[asset], body, 1, True))
            for info in infos:
                self._register(None, info.mid, 0)
            await asyncio.to_thread(_wait_published, infos, _CLOSE_TIMEOUT_S)
        client.disconnect()  # a normal DISCONNECT: the broker discards the last will
        await asyncio.to_thread(client.loop_stop)
        self._fail_open(TransientError(f"{self.name}: publisher closed"))
        self._set_state(ConnectionState.STOPPED)
        log.info("%s: closed (%d published, %d acknowledged)", self.name, self._health.published, self._health.acked)

    def health(self) -> PublisherHealth:
        return self._health

    # --- building messages --------------------------------------------------------------------------

    def _messages(self, records: Sequence[Record], historical_before_ns: int,
                  result: SendResult) -> Iterator[tuple[str, bytes, list[Record]]]:
        """(topic, payload, records in it), one by one; records without metadata go to `result.rejected`."""
        meta = self._meta
        if self._event_topics:  # event messages go to their asset's $events topic, whatever the payload mode
            plain = []
            for r in records:
                m = meta.get(r.sample.point)
                if m is not None and m.event:
                    topic = self._event_topics[m.asset]
                    yield topic, pl.event_payload(r, topic, r.sample.received_ts < historical_before_ns), [r]
                else:
                    plain.append(r)
            records = plain
        if self.cfg.payload == "per_point":
            topics_ = self._point_topics
            for r in records:
                m = meta.get(r.sample.point)
                if m is None:
                    result.rejected.append((r, f"no metadata (topic) for point {r.sample.point!r}"))
                    continue
                historical = r.sample.received_ts < historical_before_ns
                yield topics_[r.sample.point], pl.point_payload(r, m, historical), [r]
            return
        by_asset: dict[str, list[tuple[Record, PointMeta, bool]]] = {}
        for r in records:
            m = meta.get(r.sample.point)
            if m is None:
                result.rejected.append((r, f"no metadata (topic) for point {r.sample.point!r}"))
                continue
            by_asset.setdefault(m.asset, []).append((r, m, r.sample.received_ts < historical_before_ns))
        size = self.cfg.batch_size
        for asset, items in by_asset.items():
            for i in range(0, len(items), size):
                chunk = items[i:i + size]
                yield (self._batch_topics[asset], pl.asset_payload(asset, self._assets[asset], chunk),
                       [r for r, _, _ in chunk])

    # --- acknowledgement bookkeeping (both threads) --------------------------------------------------

    def _register(self, batch: _Batch | None, mid: int, index: int) -> None:
        """Expect an ack for `mid` (called right after publish; the ack may already be in)."""
        with self._lock:
            rc = self._early.pop(mid, _MISSING)
            if rc is _MISSING:
                self._pending[mid] = (batch, index) if batch is not None else None
                if batch is not None:
                    batch.remaining += 1
                    batch.mids.append(mid)
            elif batch is not None:
                assert isinstance(rc, ReasonCode)
                self._health.acked += 1
                if rc.is_failure:
                    batch.failures.append((index, rc))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: ReasonCode,
                    properties: Any) -> None:
        # network thread; a mid is never reused while paho still holds its message, so mids are unambiguous
        with self._lock:
            entry = self._pending.pop(mid, _MISSING)
            if entry is _MISSING:
                self._early[mid] = reason_code
                return
            if entry is None:
                return
            assert isinstance(entry, tuple)
            batch, index = entry
            self._health.acked += 1
            if reason_code.is_failure:
                batch.failures.append((index, reason_code))
            batch.remaining -= 1
            batch.settle_locked()

    def _abandon(self, batch: _Batch) -> None:
        """Forget a finished or failed batch; late acks of its messages are then ignored."""
        with self._lock:
            self._open.discard(batch)
            for mid in batch.mids:
                if mid in self._pending:
                    self._pending[mid] = None

    def _fail_open(self, exc: TransientError) -> None:
        with self._lock:
            batches = list(self._open)
        for b in batches:
            b.loop.call_soon_threadsafe(_fail, b.future, exc)

    # --- connection (network thread) ------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                    properties: Any) -> None:
        url = self.cfg.broker.url
        if reason_failed(reason_code):
            self._error(f"{url} refused the connection: {describe_reason(reason_code)}")
            return
        receive_max = getattr(properties, "ReceiveMaximum", None)
        if receive_max:
            # MQTT 5 Receive Maximum (mosquitto: 20): a client exceeding it is disconnected. paho 2.2 ignores
            # it and its setter refuses to run on a connected client, so write the attribute that setter writes.
            client._max_inflight_messages = min(self.cfg.max_inflight, int(receive_max))
        h = self._health
        h.connects += 1
        if h.connects > 1:
            h.reconnects += 1
        self._logged_error = None
        h.last_error = None
        ts = now_ns()
        info = client.publish(self.status_topic, pl.status_payload("online", self.gateway_id, ts), 1, True)
        self._register(None, info.mid, 0)
        for asset, aas_id in self._assets.items():
            info = client.publish(self._asset_status_topics[asset],
                                  pl.status_payload("online", self.gateway_id, ts, None, asset, aas_id), 1, True)
            self._register(None, info.mid, 0)
        self._connected = True
        self._set_state(ConnectionState.CONNECTED)
        log.info("%s: connected to %s (connect #%d)", self.name, url, h.connects)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        why = client.connect_error() if isinstance(client, GatewayClient) else "connection failed"
        self._error(f"cannot connect to {self.cfg.broker.url}: {why}")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                       properties: Any) -> None:
        was_connected, self._connected = self._connected, False
        if was_connected:
            why = "closed" if self._closing else f"lost: {describe_reason(reason_code)}"
            self._error(f"connection to {self.cfg.broker.url} {why}", logging.INFO if self._closing else None)
            self._fail_open(TransientError(f"{self.name}: connection to {self.cfg.broker.url} lost before all "
                                           f"acknowledgements arrived ({describe_reason(reason_code)})"))
        if not self._closing:
            self._set_state(ConnectionState.DISCONNECTED)

    def _error(self, message: str, level: int | None = None) -> None:
        # log a failure when it first appears or changes; a broker down for a day must not flood the log
        self._health.last_error = message
        if level is None:
            level = logging.WARNING if message != self._logged_error else logging.DEBUG
        if "refused" in message and message != self._logged_error:
            level = logging.ERROR  # credentials or authorisation: needs a person, not a retry
        self._logged_error = message
        log.log(level, "%s: %s; retrying with backoff", self.name, message)

    def _set_state(self, state: ConnectionState) -> None:
        if self._health.state != state:
            self._health.state = state
            self._health.state_since_ns = now_ns()


def _wait_published(infos: Sequence[mqtt.MQTTMessageInfo], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for info in infos:
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError):
            return
