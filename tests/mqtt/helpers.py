"""A plain paho subscriber/publisher for tests, independent of the connector's code."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """Collects messages on `filters`; resubscribes after every reconnect."""

    def __init__(self, port: int, filters: list[str], client_id: str = "test-sub", qos: int = 1) -> None:
        self.messages: list[Msg] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self._filters = filters
        self._qos = qos
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.05, 0.2)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *a: self.subscribed.clear()
        self.client.connect_async("127.0.0.1", port, 10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        client.subscribe([(f, self._qos) for f in self._filters])

    def _on_message(self, client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(Msg(m.topic, bytes(m.payload), bool(m.retain), m.qos))

    def on(self, topic: str) -> list[Msg]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def all(self) -> list[Msg]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, items: list[tuple[str, bytes | str]], retain: bool = False) -> None:
    """Publish at QoS 1 and wait for every ack."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port, 10)
    c.loop_start()
    try:
        infos = [c.publish(t, p, 1, retain) for t, p in items]
        for i in infos:
            i.wait_for_publish(10)
            assert i.is_published()
    finally:
        c.disconnect()
        c.loop_stop()
