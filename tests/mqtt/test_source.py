"""MqttSource against a real Mosquitto: mapping, payload timestamps, bad messages, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from connectors import status as st
from connectors.base import ConnectionState
from connectors.mqtt import BrokerConfig, MqttPointSpec, MqttSource, MqttSourceConfig
from connectors.mqtt.config import ReconnectConfig
from connectors.mqtt.source import BAD_DECODING_ERROR, BAD_NO_DATA
from connectors.sample import Sample
from tests.conftest import wait_for
from tests.mqtt.broker import Broker
from tests.mqtt.helpers import publish

FAST = ReconnectConfig(initial_delay_s=0.1, max_delay_s=0.5, jitter=0.1)
POINTS = [
    MqttPointSpec("S1/Env/Temperature", None, "/temperature"),
    MqttPointSpec("S1/Env/Humidity", None, "/humidity"),
    MqttPointSpec("S1/Env/First", None, "/values/0"),
    MqttPointSpec("S2/Env/Pressure", "sensors/s2/+", "/p"),
]
TS = 1_772_352_000_123  # ms


class Collector:
    def __init__(self) -> None:
        self.samples: list[Sample] = []

    async def __call__(self, batch: Sequence[Sample]) -> None:
        self.samples.extend(batch)

    def of(self, point: str) -> list[Sample]:
        return [s for s in self.samples if s.point == point]


@pytest.fixture
async def running() -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []

    async def start(port: int, points: list[MqttPointSpec] = POINTS, **kw: Any) -> tuple[MqttSource, Collector]:
        cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect=FAST,
                                                   client_id=f"src{len(tasks)}"),
                               topic="sensors/s1", **kw)
        src, out = MqttSource(f"mqtt-in{len(tasks)}", cfg, points), Collector()
        tasks.append(asyncio.create_task(src.run(out)))
        async with asyncio.timeout(10):
            await src.wait_connected()
        return src, out

    yield start
    for t in tasks:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t


async def test_maps_json_messages_to_samples_with_payload_timestamps(broker: Broker, running: Any) -> None:
    src, out = await running(broker.port, timestamp_pointer="/ts", timestamp_format="epoch_ms")
    await asyncio.to_thread(publish, broker.port, [
        ("sensors/s1", json.dumps({"ts": TS, "temperature": 21.5, "humidity": 40, "values": [7, 8]})),
        ("sensors/s2/a", json.dumps({"ts": TS + 1, "p": 1.013})),
        ("sensors/s2/b", json.dumps({"p": 1.02})),  # no timestamp: filed under its receive time
        ("sensors/other", json.dumps({"temperature": 99})),  # no point listens here
    ])
    await wait_for(lambda: len(out.samples) == 5, 10, message="5 samples")
    by = {s.point: s for s in out.samples}
    t = by["S1/Env/Temperature"]
    assert (t.value, t.source_ts, t.server_ts, t.status) == (21.5, TS * 1_000_000, None, 0)
    assert t.received_ts >= t.source_ts and t.ts == TS * 1_000_000
    assert by["S1/Env/Humidity"].value == 40 and by["S1/Env/First"].value == 7
    p1, p2 = out.of("S2/Env/Pressure")
    assert (p1.value, p1.source_ts) == (1.013, (TS + 1) * 1_000_000)
    assert (p2.value, p2.source_ts) == (1.02, None) and p2.ts == p2.received_ts
    h = src.health()
    assert h.state == ConnectionState.CONNECTED and h.bad_points == 0
    assert h.points["S1/Env/Temperature"].status == 0


async def test_bad_json_and_missing_pointers_affect_only_their_points(
        broker: Broker, running: Any, caplog: pytest.LogCaptureFixture) -> None:
    src, out = await running(broker.port)
    with caplog.at_level(logging.WARNING, logger="connectors.mqtt.source"):
        await asyncio.to_thread(publish, broker.port, [
            ("sensors/s1", b"{not json"), ("sensors/s1", b"\xff\xfe"), ("sensors/s2/x", json.dumps({"p": 2.0}))])
        await wait_for(lambda: len(out.samples) == 4, 10, message="3 bad + 1 good")
        for pid in ("S1/Env/Temperature", "S1/Env/Humidity", "S1/Env/First"):
            [s] = out.of(pid)  # once per transition, not per message
            assert (s.value, s.status) == (None, BAD_DECODING_ERROR)
            assert src.health().points[pid].status == BAD_DECODING_ERROR
        assert out.of("S2/Env/Pressure")[0].value == 2.0
        assert len([r for r in caplog.records if "S1/Env/Temperature" in r.getMessage()]) == 1

        out.samples.clear()
        await asyncio.to_thread(publish, broker.port, [
            ("sensors/s1", json.dumps({"temperature": 20.0, "values": []})),
            ("sensors/s1", json.dumps({"temperature": 20.5, "values": [{"a": 1}], "humidity": None}))])
        await wait_for(lambda: len(out.of("S1/Env/Temperature")) == 2, 10, message="temperatures")
    assert [s.value for s in out.of("S1/Env/Temperature")] == [20.0, 20.5]
    assert [s.status for s in out.of("S1/Env/Humidity")] == [BAD_NO_DATA]  # missing, then null: one transition
    assert [s.status for s in out.of("S1/Env/First")] == [BAD_NO_DATA, st.BAD_TYPE_MISMATCH]
    assert src.health().points["S1/Env/Temperature"].status == 0
    assert "humidity" in (src.health().points["S1/Env/Humidity"].error or "")
    assert src.health().state == ConnectionState.CONNECTED


async def test_broker_restart_marks_points_not_connected_then_resumes(
        mosquitto_factory: Callable[..., Broker], running: Any) -> None:
    broker = mosquitto_factory()
    src, out = await running(broker.port)
    await asyncio.to_thread(publish, broker.port, [
        ("sensors/s1", json.dumps({"temperature": 1.0, "humidity": 2, "values": [3]})),
        ("sensors/s2/a", json.dumps({"p": 4.0}))])
    await wait_for(lambda: len(out.samples) == 4, 10, message="first samples")
    await asyncio.to_thread(broker.stop)
    await wait_for(lambda: src.health().state == ConnectionState.DISCONNECTED, 10, message="disconnected")
    assert all(p.status == st.BAD_NOT_CONNECTED for p in src.health().points.values())
    assert sorted(s.point for s in out.samples if s.status == st.BAD_NOT_CONNECTED) == sorted(p.point_id
                                                                                            for p in POINTS)
    assert src.health().last_error
    await asyncio.to_thread(broker.start)
    async with asyncio.timeout(10):
        await src.wait_connected()
    assert src.health().connects == 2
    await asyncio.to_thread(publish, broker.port, [
        ("sensors/s1", json.dumps({"temperature": 5.0, "humidity": 6, "values": [7]}))])
    await wait_for(lambda: out.of("S1/Env/Temperature")[-1].value == 5.0, 10, message="values after restart")
    assert src.health().points["S1/Env/Temperature"].status == 0
    assert src.health().points["S2/Env/Pressure"].status == st.BAD_NOT_CONNECTED  # nothing new for it yet


def test_a_point_needs_a_topic() -> None:
    cfg = MqttSourceConfig(broker=BrokerConfig(host="h"))
    with pytest.raises(ValueError, match="names no topic"):
        MqttSource("s", cfg, [MqttPointSpec("p", None, "/x")])


async def test_array_and_structure_points_take_json_arrays_and_objects(broker: Broker, running: Any) -> None:
    """A point typed Double[] or Structure gets the JSON as it is (the pipeline maps it); others refuse it."""
    points = [MqttPointSpec("S1/Env/Values", None, "/values", structured=True),
              MqttPointSpec("S1/Env/Meta", None, "/meta", structured=True),
              MqttPointSpec("S1/Env/Scalar", None, "/meta")]
    _src, out = await running(broker.port, points)
    await asyncio.to_thread(publish, broker.port, [
        ("sensors/s1", json.dumps({"values": [1.5, 2.5], "meta": {"id": 7, "tags": ["a"]}}))])
    await wait_for(lambda: len(out.samples) == 3, 10, message="three samples")
    assert [(s.value, s.status) for s in out.of("S1/Env/Values")] == [([1.5, 2.5], st.GOOD)]
    assert [(s.value, s.status) for s in out.of("S1/Env/Meta")] == [({"id": 7, "tags": ["a"]}, st.GOOD)]
    assert [(s.value, s.status) for s in out.of("S1/Env/Scalar")] == [(None, st.BAD_TYPE_MISMATCH)]
