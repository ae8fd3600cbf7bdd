"""Southbound MQTT source: smart sensors that publish JSON, mapped to points by JSON pointer.

Sensors rarely speak OPC UA but often publish JSON to a broker; this source lets them feed the
same pipeline as the machines. Each point names a topic filter and a JSON pointer into the
message. Quality follows the OPC UA model like every other source: a message that is not JSON
makes the points fed by that topic BadDecodingError, a pointer that is absent (or null) makes
only its point BadNoData, a value that is an object or array BadTypeMismatch, and a lost broker
connection makes every point BadNotConnected; each transition is logged and emitted once.

paho's network thread only queues messages and connection events; all decoding and state
happens on the event loop, so health and samples never race.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from connectors import status as st
from connectors.base import ConnectionState, Emit, PointHealth, SourceHealth
from connectors.mqtt.client import GatewayClient, connect_async, describe_reason, make_client, reason_failed
from connectors.mqtt.config import MqttPointSpec, MqttSourceConfig
from connectors.mqtt.jsonpointer import parse_pointer, resolve
from connectors.ratelimit import RateLimitedLog
from connectors.sample import FLAG_SOURCE_TS_INVALID, Sample, datetime_to_ns, now_ns, plausible_ns

log = logging.getLogger(__name__)

BAD_DECODING_ERROR = 0x80070000
BAD_NO_DATA = 0x809B0000
BAD_USER_ACCESS_DENIED = 0x801F0000

_MAX_DRAIN = 5000  # messages per emit call: bounded batches keep the pipeline's latency even
_MATCH_CACHE_SIZE = 10_000


@dataclass(slots=True, eq=False)
class _Point:
    spec: MqttPointSpec
    topic_filter: str
    tokens: tuple[str, ...]
    health: PointHealth = field(default_factory=PointHealth)

    @property
    def point_id(self) -> str:
        return self.spec.point_id


def parse_timestamp(value: Any, fmt: str) -> int | None:
    """Epoch ns from a payload timestamp (`epoch_ms`, `epoch_s`, `iso8601`), None if it is not one."""
    if fmt == "iso8601":
        if not isinstance(value, str):
            return None
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        if dt.tzinfo is None:  # a sensor without a zone: UTC, as everywhere in the gateway
            dt = dt.replace(tzinfo=UTC)
        return datetime_to_ns(dt)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return None
    scale = 1_000_000 if fmt == "epoch_ms" else 1_000_000_000
    if isinstance(value, int):
        return value * scale
    if isinstance(value, float) and value == value and abs(value) < 1e15:
        return round(value * scale)
    return None


class MqttSource:
    """A `connectors.base.Source` for one broker connection and its sensor points."""

    def __init__(self, name: str, cfg: MqttSourceConfig, points: Sequence[MqttPointSpec]) -> None:
        self.name = name
        self.cfg = cfg
        self.points: list[_Point] = []
        self._filters: dict[str, list[_Point]] = {}
        for spec in points:
            topic_filter = spec.topic or cfg.topic
            if topic_filter is None:
                raise ValueError(f"point {spec.point_id!r} names no topic and the source {name!r} has no default topic")
            p = _Point(spec, topic_filter, parse_pointer(spec.pointer))
            self.points.append(p)
            self._filters.setdefault(topic_filter, []).append(p)
        self._ts_tokens = parse_pointer(cfg.timestamp_pointer) if cfg.timestamp_pointer is not None else None
        self._health = SourceHealth(name=name, endpoint=cfg.broker.url, state_since_ns=now_ns(),
                                    points={p.point_id: p.health for p in self.points})
        self._match_cache: dict[str, list[_Point]] = {}
        self._inbox: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._collecting = asyncio.Event()
        self._subscribe_mid: int | None = None
        self._net_connected = False  # network thread's view
        self._emit: Emit | None = None
        self._logged_error: str | None = None
        self._ts_warned = False
        self._ts_log = RateLimitedLog(log)
        self.dropped = 0  # messages dropped because the pipeline fell behind by max_pending_messages
        self._dropped_logged = 0

    # --- public ------------------------------------------------------------------------------------

    def health(self) -> SourceHealth:
        return self._health

    async def wait_connected(self) -> None:
        """Return once connected and subscribed (use with asyncio.timeout)."""
        await self._collecting.wait()

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        b = self.cfg.broker
        client = make_client(b, b.client_id_for(self.name), self.name)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._set_state(ConnectionState.CONNECTING)
        connect_async(client, b)
        client.loop_start()
        log.info("%s: subscribing to %d topic filter(s) on %s for %d point(s)", self.name, len(self._filters),
                 b.url, len(self.points))
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self._wake_pending = False
                while self._inbox:
                    await self._drain()
        finally:
            self._collecting.clear()
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
            self._set_state(ConnectionState.STOPPED)

    # --- network thread: queue only ---------------------------------------------------------------

    def _post(self, item: tuple[Any, ...]) -> None:
        inbox = self._inbox
        inbox.append(item)
        if item[0] == "msg" and len(inbox) > self.cfg.max_pending_messages:
            inbox.popleft()
            self.dropped += 1
        # one wake-up per burst, not per message; the loop clears the flag before draining
        if not self._wake_pending and self._loop is not None and self._wake is not None:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                    properties: Any) -> None:
        if reason_failed(reason_code):
            self._post(("error", f"{self.cfg.broker.url} refused the connection: {describe_reason(reason_code)}"))
            return
        subscriptions: list[tuple[str, int]] = [(f, self.cfg.qos) for f in self._filters]
        _, self._subscribe_mid = client.subscribe(subscriptions)
        self._net_connected = True
        self._post(("connected",))

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        why = client.connect_error() if isinstance(client, GatewayClient) else "connection failed"
        self._post(("error", f"cannot connect to {self.cfg.broker.url}: {why}"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                       properties: Any) -> None:
        # after a refused CONNACK paho reports a disconnect too; the refusal was already posted
        if self._net_connected:
            self._net_connected = False
            self._post(("disconnected", describe_reason(reason_code)))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode],
                      properties: Any) -> None:
        if mid == self._subscribe_mid:
            self._post(("subscribed", list(reason_codes)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            return
        self._post(("msg", topic, message.payload, now_ns()))

    # --- event loop: decode and track state ----------------------------------------------------------

    async def _drain(self) -> None:
        out: list[Sample] = []
        inbox = self._inbox
        n = 0
        while inbox and n < _MAX_DRAIN:
            item = inbox.popleft()
            n += 1
            kind = item[0]
            if kind == "msg":
                self._decode(item[1], item[2], item[3], out)
                continue
            if out:  # keep samples and the status changes of connection events in arrival order
                await self._deliver(out)
                out = []
            if kind == "connected":
                self._connected()
            elif kind == "subscribed":
                await self._subscribed(item[1])
            elif kind == "disconnected":
                await self._lost(f"connection to {self.cfg.broker.url} lost: {item[1]}")
            elif kind == "error":
                await self._lost(item[1])
        if self.dropped != self._dropped_logged:
            log.warning("%s: pipeline fell behind; dropped %d message(s) so far (max_pending_messages=%d)",
                        self.name, self.dropped, self.cfg.max_pending_messages)
            self._dropped_logged = self.dropped
        self._ts_log.flush()
        if out:
            await self._deliver(out)

    def _points_for(self, topic: str) -> list[_Point]:
        points = self._match_cache.get(topic)
        if points is None:
            points = [p for f, group in self._filters.items() if mqtt.topic_matches_sub(f, topic) for p in group]
            if len(self._match_cache) >= _MATCH_CACHE_SIZE:
                self._match_cache.clear()
            self._match_cache[topic] = points
        return points

    def _decode(self, topic: str, payload: bytes, received: int, out: list[Sample]) -> None:
        points = self._points_for(topic)
        if not points:
            return
        try:
            doc = json.loads(payload)
        except ValueError as e:  # UnicodeDecodeError is a ValueError
            for p in points:
                self._bad(p, BAD_DECODING_ERROR, f"message on {topic} is not JSON ({e})", received, out)
            return
        source_ts = self._timestamp(doc, topic)
        flags = 0
        if source_ts is not None and plausible_ns(source_ts, received) is None:
            # a sensor without a set clock: the value is kept, filed under its receive time, and flagged
            self._ts_log.warning("timestamp", "%s: message on %s has a timestamp that is no time (%d ns since "
                                 "1970: before 1970 or over a year ahead); stored without it, flagged "
                                 "SourceTimestampInvalid", self.name, topic, source_ts)
            source_ts, flags = None, FLAG_SOURCE_TS_INVALID
        for p in points:
            try:
                value = resolve(doc, p.tokens)
            except LookupError:
                self._bad(p, BAD_NO_DATA, f"{p.spec.pointer!r} is not in the message on {topic}", received, out)
                continue
            if value is None:
                self._bad(p, BAD_NO_DATA, f"{p.spec.pointer!r} is null in the message on {topic}", received, out)
            elif isinstance(value, dict | list) and not p.spec.structured:
                self._bad(p, st.BAD_TYPE_MISMATCH, f"{p.spec.pointer!r} is a JSON {type(value).__name__}, "
                          "not a value", received, out)
            else:
                if p.health.status is not None and st.is_bad(p.health.status):
                    log.info("%s: point %s has values again (topic %s)", self.name, p.point_id, topic)
                    p.health.status = st.GOOD
                out.append(Sample(p.point_id, value, source_ts, None, received, st.GOOD, flags))

    def _timestamp(self, doc: Any, topic: str) -> int | None:
        """The payload's timestamp, or None (the sample then files under its receive time)."""
        if self._ts_tokens is None:
            return None
        try:
            ts = parse_timestamp(resolve(doc, self._ts_tokens), self.cfg.timestamp_format)
        except LookupError:
            ts = None
        if ts is None and not self._ts_warned:
            log.warning("%s: no %s timestamp at %r in the message on %s; using the receive time (logged once)",
                        self.name, self.cfg.timestamp_format, self.cfg.timestamp_pointer, topic)
            self._ts_warned = True
        return ts

    def _bad(self, p: _Point, status: int, message: str, received: int, out: list[Sample]) -> None:
        if p.health.status == status:
            return  # logged and emitted at the transition already
        log.warning("%s: point %s is bad: %s [%s]", self.name, p.point_id, message, st.status_name(status))
        p.health.error = message
        p.health.status = status  # now, not at delivery: the next message of this drain must see the transition
        out.append(Sample(p.point_id, None, None, None, received, status))

    async def _deliver(self, samples: list[Sample]) -> None:
        health = self._health.points
        for s in samples:
            h = health[s.point]
            h.status = s.status
            h.last_sample_ns = s.received_ts
            if st.is_good(s.status):
                h.error = None
        self._health.last_sample_ns = samples[-1].received_ts
        assert self._emit is not None
        await self._emit(samples)

    def _connected(self) -> None:
        self._health.connects += 1
        self._health.last_error = None
        self._logged_error = None
        self._set_state(ConnectionState.CONNECTED)
        log.info("%s: connected to %s (connect #%d)", self.name, self.cfg.broker.url, self._health.connects)

    async def _subscribed(self, reason_codes: list[ReasonCode]) -> None:
        out: list[Sample] = []
        for (topic_filter, group), rc in zip(self._filters.items(), reason_codes, strict=False):
            if reason_failed(rc):
                status = BAD_USER_ACCESS_DENIED if rc.value == 0x87 else st.BAD_COMMUNICATION_ERROR
                for p in group:
                    self._bad(p, status, f"subscription to {topic_filter} refused: {describe_reason(rc)}",
                              now_ns(), out)
        if out:
            await self._deliver(out)
        self._collecting.set()

    async def _lost(self, message: str) -> None:
        self._collecting.clear()
        self._health.last_error = message
        level = logging.WARNING if message != self._logged_error else logging.DEBUG
        self._logged_error = message
        log.log(level, "%s: %s; reconnecting with backoff", self.name, message)
        now = now_ns()
        changed = [p for p in self.points if p.health.status != st.BAD_NOT_CONNECTED]
        if changed:  # before the state change: observers see both together
            await self._deliver([Sample(p.point_id, None, None, None, now, st.BAD_NOT_CONNECTED) for p in changed])
        for p in self.points:
            p.health.error = "not connected"
        self._set_state(ConnectionState.DISCONNECTED)

    def _set_state(self, state: ConnectionState) -> None:
        self._health.set_state(state, now_ns())
