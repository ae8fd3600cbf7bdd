"""MqttPublisher against a real Mosquitto: topics, payloads, acks, birth/will, outages, auth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from connectors.base import ConnectionState, PointMeta, Record, TransientError
from connectors.mqtt import BrokerConfig, MqttPublisher, MqttPublisherConfig
from connectors.mqtt.config import ReconnectConfig
from connectors.sample import Sample, ns_to_iso
from tests.conftest import wait_for
from tests.mqtt.broker import Broker, TlsFiles
from tests.mqtt.certs import make_ca, make_server_cert
from tests.mqtt.helpers import Msg, Subscriber
from tests.secrets import secret

META = {
    m.point_id: m for m in [
        PointMeta("CNC01/OperationalData/Spindle.Speed", "CNC01", "https://ex.com/aas/CNC01", "OperationalData",
                  "Spindle.Speed", "xs:double", unit="1/min", semantic_id="urn:sem:speed"),
        PointMeta("CNC01/OperationalData/Axes[0].Position", "CNC01", "https://ex.com/aas/CNC01", "OperationalData",
                  "Axes[0].Position", "xs:double"),
        PointMeta("Robot2/State/Running", "Robot2", "https://ex.com/aas/Robot2", "State", "Running", "xs:boolean"),
    ]
}
TOPICS = {
    "CNC01/OperationalData/Spindle.Speed": "aas/CNC01/OperationalData/Spindle/Speed",
    "CNC01/OperationalData/Axes[0].Position": "aas/CNC01/OperationalData/Axes/0/Position",
    "Robot2/State/Running": "aas/Robot2/State/Running",
}
FAST = ReconnectConfig(initial_delay_s=0.1, max_delay_s=0.5, jitter=0.1)
T0 = 1_772_352_000_000_000_000


def cfg(port: int, **kw: Any) -> MqttPublisherConfig:
    broker = {"client_id": "gw-pub", **kw.pop("broker", {})}
    return MqttPublisherConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect=FAST, **broker), **kw)


def records(n: int, start_seq: int = 1, received_ts: int = T0) -> list[Record]:
    ids = list(META)
    return [Record(start_seq + i, Sample(ids[i % 3], float(i) if i % 3 != 2 else bool(i % 2), T0 + i * 1000, None,
                                         received_ts + i, 0)) for i in range(n)]


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[..., Subscriber]]:
    subs: list[Subscriber] = []

    def make(port: int, filters: list[str] | None = None, **kw: Any) -> Subscriber:
        s = Subscriber(port, filters or ["aas/#"], client_id=f"sub{len(subs)}", **kw)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.close()


@pytest.fixture
async def publishers() -> AsyncIterator[Callable[..., MqttPublisher]]:
    made: list[MqttPublisher] = []

    def make(c: MqttPublisherConfig, gateway_id: str = "gw1") -> MqttPublisher:
        p = MqttPublisher("mqtt-out", c, META, gateway_id)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.close()


def values(sub: Subscriber) -> list[Msg]:
    """Value messages only (a filter like aas/CNC01/# also matches the retained aas/CNC01/$status)."""
    return [m for m in sub.all() if "/$" not in m.topic]


async def connected(p: MqttPublisher) -> None:
    await wait_for(lambda: p.health().state == ConnectionState.CONNECTED, 10, message="publisher connected")


async def test_publishes_exactly_the_records_with_documented_topics_and_payloads(
        broker: Broker, subscriber_factory: Callable[..., Subscriber],
        publishers: Callable[..., MqttPublisher]) -> None:
    sub = subscriber_factory(broker.port, ["aas/CNC01/OperationalData/#", "aas/Robot2/State/#"])
    await wait_for(sub.subscribed.is_set, 10, message="subscribed")
    pub = publishers(cfg(broker.port))
    await pub.start()
    await connected(pub)
    batch = records(30)
    batch.append(Record(31, Sample("Robot2/State/Running", None, None, None, T0 + 99, 0x808A0000)))
    result = await pub.send(batch, historical_before_ns=0)
    assert result.delivered == 31 and result.rejected == []
    h = pub.health()
    assert h.published == 31 and h.acked == 31  # QoS 1: send returned after every PUBACK
    await wait_for(lambda: len(sub.all()) >= 31, 10, message="31 messages")
    got = sub.all()
    assert len(got) == 31
    for r in batch:
        [m] = [m for m in got if m.json()["seq"] == r.seq]
        assert m.topic == TOPICS[r.sample.point] and m.qos == 1 and not m.retain
        d = m.json()
        meta = META[r.sample.point]
        assert d["value"] == r.sample.value
        assert d["timestamp"] == ns_to_iso(r.sample.ts)
        assert d["sourceTimestamp"] == (ns_to_iso(r.sample.source_ts) if r.sample.source_ts else None)
        assert d["serverTimestamp"] is None and d["historical"] is False
        assert (d["semanticId"], d["unit"]) == (meta.semantic_id, meta.unit)
        assert (d["status"], d["statusCode"], d["quality"]) == (
            ("Good", 0, "good") if r.seq != 31 else ("BadNotConnected", 0x808A0000, "bad"))
    # per point, messages arrive in seq order
    speed = [m.json()["seq"] for m in got if m.topic == TOPICS["CNC01/OperationalData/Spindle.Speed"]]
    assert speed == sorted(speed)


async def test_replays_are_flagged_historical(broker: Broker, subscriber_factory: Callable[..., Subscriber],
                                             publishers: Callable[..., MqttPublisher]) -> None:
    sub = subscriber_factory(broker.port, ["aas/CNC01/#"])
    await wait_for(sub.subscribed.is_set, 10, message="subscribed")
    pub = publishers(cfg(broker.port))
    await pub.start()
    await connected(pub)
    old = Record(1, Sample("CNC01/OperationalData/Spindle.Speed", 1.0, T0, None, T0, 0))
    new = Record(2, Sample("CNC01/OperationalData/Spindle.Speed", 2.0, T0 + 10, None, T0 + 10, 0))
    await pub.send([old, new], historical_before_ns=T0 + 5)
    await wait_for(lambda: len(values(sub)) == 2, 10, message="2 messages")
    flags = {m.json()["seq"]: m.json()["historical"] for m in values(sub)}
    assert flags == {1: True, 2: False}


async def test_per_asset_batches(broker: Broker, subscriber_factory: Callable[..., Subscriber],
                                 publishers: Callable[..., MqttPublisher]) -> None:
    sub = subscriber_factory(broker.port, ["aas/+/$batch"])
    await wait_for(sub.subscribed.is_set, 10, message="subscribed")
    pub = publishers(cfg(broker.port, payload="per_asset", batch_size=4))
    await pub.start()
    await connected(pub)
    batch = records(12)  # 8 for CNC01 (2 messages of 4), 4 for Robot2 (1 message)
    result = await pub.send(batch, 0)
    assert result.delivered == 12
    await wait_for(lambda: len(sub.all()) == 3, 10, message="3 batches")
    cnc = [m.json() for m in sub.on("aas/CNC01/$batch")]
    assert [len(d["samples"]) for d in cnc] == [4, 4]
    assert cnc[0]["asset"] == "CNC01" and cnc[0]["aasId"] == "https://ex.com/aas/CNC01"
    s0 = cnc[0]["samples"][0]
    assert (s0["submodel"], s0["path"], s0["value"], s0["seq"], s0["status"]) == (
        "OperationalData", "Spindle.Speed", 0.0, 1, "Good")
    seqs = sorted(s["seq"] for m in sub.all() for s in m.json()["samples"])
    assert seqs == list(range(1, 13))


async def test_birth_on_every_connect_will_on_abrupt_loss_clean_offline_on_close(
        broker: Broker, subscriber_factory: Callable[..., Subscriber],
        publishers: Callable[..., MqttPublisher]) -> None:
    gw_topic, asset_topic = "aas/$status/gw1", "aas/CNC01/$status"
    pub = publishers(cfg(broker.port, broker={"keepalive_s": 5}))
    await pub.start()
    await connected(pub)
    # a late subscriber still sees the retained births
    sub = subscriber_factory(broker.port, ["aas/$status/+", "aas/+/$status"])
    await wait_for(lambda: len(sub.on(gw_topic)) == 1 and len(sub.on(asset_topic)) == 1, 10, message="births")
    birth = sub.on(gw_topic)[0]
    assert birth.retain and birth.json()["status"] == "online" and birth.json()["gateway"] == "gw1"
    assert birth.json()["timestamp"].endswith("Z")
    a = sub.on(asset_topic)[0].json()
    assert (a["status"], a["asset"], a["aasId"]) == ("online", "CNC01", "https://ex.com/aas/CNC01")

    # another client takes over the client id: the broker drops our connection without a DISCONNECT
    thief = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-pub", protocol=mqtt.MQTTv5,
                        reconnect_on_failure=False)
    thief.connect("127.0.0.1", broker.port, 10)
    thief.loop_start()
    try:
        await wait_for(lambda: any(m.json()["status"] == "offline" for m in sub.on(gw_topic)), 10, message="will")
    finally:
        thief.disconnect()
        thief.loop_stop()
    will = next(m.json() for m in sub.on(gw_topic) if m.json()["status"] == "offline")
    assert will["reason"] == "connection lost" and will["gateway"] == "gw1"
    # the publisher reconnects by itself and is born again
    await wait_for(lambda: sub.on(gw_topic)[-1].json()["status"] == "online", 10, message="second birth")
    assert pub.health().reconnects >= 1
    await connected(pub)
    await pub.close()
    await wait_for(lambda: sub.on(gw_topic)[-1].json()["status"] == "offline"
                   and sub.on(asset_topic)[-1].json()["status"] == "offline", 10, message="clean offline")
    assert sub.on(gw_topic)[-1].json()["reason"] == "shutdown"
    assert sub.on(asset_topic)[-1].json()["reason"] == "shutdown"


@pytest.mark.slow
async def test_broker_outage_mid_send_raises_transient_and_the_retry_arrives(
        mosquitto_factory: Callable[..., Broker], subscriber_factory: Callable[..., Subscriber],
        publishers: Callable[..., MqttPublisher]) -> None:
    broker = mosquitto_factory()
    pub = publishers(cfg(broker.port))
    await pub.start()
    await connected(pub)
    batch = records(20_000)
    task = asyncio.create_task(pub.send(batch, 0))
    await wait_for(lambda: pub.health().acked > 0, 10, interval=0.001, message="first acks")
    await asyncio.to_thread(broker.stop)
    with pytest.raises(TransientError):
        await asyncio.wait_for(task, 10)
    assert pub.health().acked < len(batch)
    # at once while disconnected: the coroutine raises in its first step, before it ever waits (an event,
    # not a stopwatch: no timing bound a loaded box could break)
    step = pub.send(batch[:10], 0)
    with pytest.raises(TransientError, match="not connected"):
        step.send(None)
    await asyncio.to_thread(broker.start)
    sub = subscriber_factory(broker.port, ["aas/#"])
    await wait_for(sub.subscribed.is_set, 10, message="subscribed after restart")
    await connected(pub)
    result = await pub.send(batch, 0)
    assert result.delivered == len(batch)
    await wait_for(lambda: {m.json()["seq"] for m in values(sub)} >= {r.seq for r in batch},
                   20, message="whole batch after the restart")


async def test_wrong_password_is_a_clear_error_and_send_is_transient(
        mosquitto_factory: Callable[..., Broker], publishers: Callable[..., MqttPublisher],
        caplog: pytest.LogCaptureFixture) -> None:
    broker = mosquitto_factory(password=("gateway", secret("right-secret")))
    pub = publishers(cfg(broker.port, broker={"username": "gateway", "password": secret("wrong-secret")}))
    with caplog.at_level(logging.WARNING):
        await pub.start()
        await wait_for(lambda: pub.health().last_error, 10, message="an error")
        err = pub.health().last_error
        assert err is not None and f"mqtt://127.0.0.1:{broker.port}" in err
        assert "reason code 13" in err  # 134 bad user name or password / 135 not authorized
        with pytest.raises(TransientError) as exc:
            await pub.send(records(1), 0)
        assert "reason code 13" in str(exc.value)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "refused the connection" in r.getMessage()]
    assert errors and all("secret" not in r.getMessage() for r in caplog.records)
    ok = publishers(cfg(broker.port, broker={"username": "gateway", "password": "right-secret",
                                              "client_id": "gw-ok"}))
    await ok.start()
    await connected(ok)
    assert (await ok.send(records(3), 0)).delivered == 3


async def test_qos0_returns_after_writing(broker: Broker, subscriber_factory: Callable[..., Subscriber],
                                         publishers: Callable[..., MqttPublisher]) -> None:
    sub = subscriber_factory(broker.port, ["aas/#"], qos=0)
    await wait_for(sub.subscribed.is_set, 10, message="subscribed")
    pub = publishers(cfg(broker.port, qos=0))
    await pub.start()
    await connected(pub)
    assert (await pub.send(records(100), 0)).delivered == 100
    await wait_for(lambda: len(values(sub)) == 100, 10, message="100 messages")


async def test_tls_with_verification(mosquitto_factory: Callable[..., Broker], tmp_path: Path,
                                     subscriber_factory: Callable[..., Subscriber],
                                     publishers: Callable[..., MqttPublisher]) -> None:
    ca, ca_key = make_ca(tmp_path, "Broker CA")
    cert, key = make_server_cert(tmp_path, ca, ca_key)
    other_ca, _ = make_ca(tmp_path, "Other CA")
    broker = mosquitto_factory(tls=TlsFiles(ca, cert, key))
    pub = publishers(cfg(broker.port, broker={"tls": {"ca_file": str(ca)}}))
    await pub.start()
    await connected(pub)
    assert pub.health().broker == f"mqtts://127.0.0.1:{broker.port}"
    assert (await pub.send(records(5), 0)).delivered == 5

    untrusted = publishers(cfg(broker.port, broker={"tls": {"ca_file": str(other_ca)}, "client_id": "gw-untrusted"}))
    await untrusted.start()
    await wait_for(lambda: untrusted.health().last_error, 10, message="a TLS error")
    assert "CERTIFICATE_VERIFY_FAILED" in (untrusted.health().last_error or "")
    assert untrusted.health().state != ConnectionState.CONNECTED
    with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusted.send(records(1), 0)
