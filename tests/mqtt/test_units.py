"""Topic scheme, JSON pointers, payload schema, timestamp parsing and config rules (no broker)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from connectors.base import PointMeta, Record
from connectors.mqtt import payload as pl
from connectors.mqtt import topics
from connectors.mqtt.config import BrokerConfig, MqttPointSpec, MqttPublisherConfig, MqttSourceConfig, TlsConfig
from connectors.mqtt.jsonpointer import parse_pointer, resolve
from connectors.mqtt.source import parse_timestamp
from connectors.sample import Sample


def test_point_topic_maps_idshortpath_to_levels() -> None:
    assert topics.point_topic("aas", "CNC01", "OperationalData", "Spindle.Speed") == (
        "aas/CNC01/OperationalData/Spindle/Speed")
    assert topics.point_topic("plant/aas", "R1", "Op", "Axes[0].Pos") == "plant/aas/R1/Op/Axes/0/Pos"
    assert topics.point_topic("aas", "R1", "Op", "M[1][2]") == "aas/R1/Op/M/1/2"
    assert topics.asset_batch_topic("aas", "R1") == "aas/R1/$batch"
    assert topics.asset_status_topic("aas", "R1") == "aas/R1/$status"
    assert topics.gateway_status_topic("aas", "$status/{gateway_id}", "gw1") == "aas/$status/gw1"


@pytest.mark.parametrize("path", ["a+b", "a/#", "a..b", "", ".a", "a.", "1a", "a b", "$x", "a[x]", "a/b"])
def test_bad_idshort_paths_cannot_become_topics(path: str) -> None:
    with pytest.raises(ValueError):
        topics.point_topic("aas", "A", "S", path)


@pytest.mark.parametrize("asset", ["", "a+", "#", "a/b", "$status"])
def test_bad_asset_idshorts_rejected(asset: str) -> None:
    with pytest.raises(ValueError):
        topics.point_topic("aas", asset, "S", "x")


def test_topic_and_filter_validation() -> None:
    for bad in ["", "a//b", "/a", "a/", "a/+", "a/#"]:
        with pytest.raises(ValueError):
            topics.validate_topic(bad)
    for ok in ["a/+/b", "#", "a/#", "/sensors/+", "+"]:
        topics.validate_filter(ok)
    for bad in ["a/#/b", "a#", "a+/b", ""]:
        with pytest.raises(ValueError):
            topics.validate_filter(bad)


def test_json_pointer() -> None:
    doc = {"a": {"b/c": [10, 20]}, "~k": 1, "": 5}
    assert resolve(doc, parse_pointer("/a/b~1c/1")) == 20
    assert resolve(doc, parse_pointer("/~0k")) == 1
    assert resolve(doc, parse_pointer("/")) == 5
    assert resolve(doc, parse_pointer("")) is doc
    for missing in ["/x", "/a/b~1c/2", "/a/b~1c/01", "/a/b~1c/-", "/~0k/x"]:
        with pytest.raises(LookupError):
            resolve(doc, parse_pointer(missing))
    for bad in ["a", "/a~2"]:
        with pytest.raises(ValueError):
            parse_pointer(bad)


def test_point_payload_schema() -> None:
    meta = PointMeta("A/S/T", "A", "urn:a", "S", "T", "xs:double", unit="degC", semantic_id="0173-1#02-AAB381#003")
    ts = 1_772_352_000_123_456_000
    r = Record(7, Sample("A/S/T", 21.5, ts, None, ts + 1000, 0))
    d = json.loads(pl.point_payload(r, meta, historical=False))
    assert d == {"value": 21.5, "timestamp": "2026-03-01T08:00:00.123456Z",
                 "sourceTimestamp": "2026-03-01T08:00:00.123456Z", "serverTimestamp": None, "status": "Good",
                 "statusCode": 0, "quality": "good", "semanticId": "0173-1#02-AAB381#003", "unit": "degC",
                 "historical": False, "seq": 7}
    bad = Record(8, Sample("A/S/T", None, None, None, ts, 0x808A0000))
    d = json.loads(pl.point_payload(bad, meta, historical=True))
    assert (d["value"], d["status"], d["statusCode"], d["quality"], d["historical"]) == (
        None, "BadNotConnected", 0x808A0000, "bad", True)
    assert d["timestamp"] == "2026-03-01T08:00:00.123456Z" and d["sourceTimestamp"] is None


def test_json_values_are_always_valid_json() -> None:
    assert pl.json_value(math.nan) == "NaN" and pl.json_value(-math.inf) == "-INF"
    assert pl.json_value(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert pl.json_value(b"\x00\x01") == "AAE="


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    (1_772_352_000_123, "epoch_ms", 1_772_352_000_123_000_000),
    ("1772352000123", "epoch_ms", 1_772_352_000_123_000_000),
    (1_772_352_000.5, "epoch_s", 1_772_352_000_500_000_000),
    ("2026-03-01T08:00:00.123456Z", "iso8601", 1_772_352_000_123_456_000),
    ("2026-03-01T09:00:00+01:00", "iso8601", 1_772_352_000_000_000_000),
    ("2026-03-01T08:00:00", "iso8601", 1_772_352_000_000_000_000),
    (True, "epoch_ms", None), ("x", "epoch_ms", None), ("yesterday", "iso8601", None), (5, "iso8601", None),
])
def test_parse_timestamp(value: object, fmt: str, expected: int | None) -> None:
    assert parse_timestamp(value, fmt) == expected


def test_config_rules() -> None:
    assert TlsConfig().verify is True
    with pytest.raises(ValidationError):
        BrokerConfig(host="h", password="x")
    with pytest.raises(ValidationError):
        TlsConfig(certfile="c.pem")
    b = BrokerConfig(host="h", tls=TlsConfig(ca_file="ca.pem"), username="u", password="secret")
    assert b.effective_port == 8883 and b.url == "mqtts://h:8883"
    assert "secret" not in repr(b) and "secret" not in str(b.model_dump())
    for prefix in ["a/+", "a//b", "$SYS", ""]:
        with pytest.raises(ValidationError):
            MqttPublisherConfig(broker=b, topic_prefix=prefix)
    with pytest.raises(ValidationError):
        MqttSourceConfig(broker=b, topic="a/#/b")
    with pytest.raises(ValueError):
        MqttPointSpec("p", None, "temperature")


def test_payload_of_rich_values_is_native_json() -> None:
    """Arrays, structures and texts travel as the element's ValueOnly JSON; binary as base64."""
    m = PointMeta(point_id="A/Op/T", asset="A", aas_id="urn:a", submodel="Op", path="T", value_type="Structure")
    for value, expected in [
        ({"Id": 7, "Offsets": [0.1, "NaN"], "Label": [{"de": "Fräser"}]},
         {"Id": 7, "Offsets": [0.1, "NaN"], "Label": [{"de": "Fräser"}]}),
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]),
        (b"\x00\xff", "AP8="),
        ({"typeId": "ns=2;i=5", "body": "AQI="}, {"typeId": "ns=2;i=5", "body": "AQI="}),
    ]:
        body = json.loads(pl.point_payload(Record(1, Sample("A/Op/T", value, 1, None, 1, 0)), m, False))
        assert body["value"] == expected

def test_event_points_are_published_as_event_payloads_on_the_assets_events_topic() -> None:
    import json as _json

    from connectors.base import Record
    from connectors.mqtt.payload import event_payload
    from connectors.mqtt.topics import asset_events_topic
    from connectors.sample import Sample

    topic = asset_events_topic("plant1/aas", "IMM01")
    assert topic == "plant1/aas/IMM01/$events"
    stored = _json.dumps({"source": {"type": "ModelReference", "keys": []}, "timeStamp": "2026-03-01T08:00:00Z",
                          "payload": {"alarm": "A", "transition": "raised"}})
    msg = _json.loads(event_payload(Record(7, Sample("IMM01/AnomalyDetection/Alarms.A.Event", stored, 1, None, 1)),
                                    topic, historical=False))
    assert msg["payload"] == {"alarm": "A", "transition": "raised"}
    assert msg["topic"] == topic and msg["seq"] == 7 and msg["historical"] is False
    odd = _json.loads(event_payload(Record(8, Sample("x", "not json", 10**18, None, 10**18)), topic, True))
    assert odd["payload"] == "not json" and odd["timeStamp"].startswith("2001-")
