"""The line-protocol schema and the pure helpers of the InfluxDB sink (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.base import PointMeta, Record
from connectors.influx import InfluxConfig, linked_segment
from connectors.influx.lineprotocol import LineEncoder, escape_measurement, escape_string, escape_tag
from connectors.influx.sink import parse_retry_after
from connectors.sample import Sample
from connectors.status import BAD_NOT_CONNECTED, GOOD

TS = 1714550400_123456789  # 2024-05-01T08:00:00.123456789Z


def meta(path: str, value_type: str, unit: str | None = None, asset: str = "CNC01") -> PointMeta:
    return PointMeta(point_id=f"{asset}/OperationalData/{path}", asset=asset, aas_id=f"urn:test:aas:{asset}",
                     submodel="OperationalData", path=path, value_type=value_type, unit=unit,
                     semantic_id="0173-1#02-AAB381#003")


POINTS = {m.point_id: m for m in [
    meta("Speed", "xs:double", "1/min"), meta("Count", "xs:int"), meta("Big", "xs:unsignedLong"),
    meta("On", "xs:boolean"), meta("Program", "xs:string"), meta("Since", "xs:dateTime"),
]}


def enc(precision: str = "ms", tags: tuple[str, ...] = ("asset", "submodel", "path", "unit")) -> LineEncoder:
    return LineEncoder("aas", tags, precision, POINTS)


def line(path: str, value: object, status: int = GOOD, ts: int = TS, encoder: LineEncoder | None = None) -> str:
    return (encoder or enc()).encode(Sample(f"CNC01/OperationalData/{path}", value, ts, None, ts + 5, status))


def fields(text: str) -> str:
    """The field set of a line (between the unescaped spaces)."""
    return text.split(" ")[-2]


def test_example_line_of_the_schema() -> None:
    assert line("Speed", 1500.5, ts=1714550400_000_000_000) == (
        "aas,asset=CNC01,path=Speed,submodel=OperationalData,unit=1/min value=1500.5,status=0i 1714550400000")


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("Speed", 1.5, "value=1.5,status=0i"),
    ("Speed", 21, "value=21.0,status=0i"),  # an int on a double point stays a float field
    ("Speed", -1e-300, "value=-1e-300,status=0i"),
    ("Speed", 1e20, "value=1e+20,status=0i"),
    ("Count", 15, "value=15i,status=0i"),
    ("Count", -7, "value=-7i,status=0i"),
    ("Count", 3.0, "value=3i,status=0i"),
    ("Count", True, "value=1i,status=0i"),
    ("Big", 2**63 - 1, f"value={2**63 - 1}i,status=0i"),  # unsigned: 'i', see the schema
    ("On", True, "value=true,status=0i"),
    ("On", False, "value=false,status=0i"),
    ("On", 1, "value=true,status=0i"),
    ("Program", "O1000", 'value="O1000",status=0i'),
    ("Program", 'say "hi"\\', 'value="say \\"hi\\"\\\\",status=0i'),
    ("Program", "two\nlines\r\tend", 'value="two\\nlines\\r\\tend",status=0i'),
    ("Program", "a b,c=d", 'value="a b,c=d",status=0i'),
    ("Since", datetime(2024, 5, 1, 8, tzinfo=UTC), 'value="2024-05-01T08:00:00Z",status=0i'),
    ("Program", [1, "x"], 'value="[1,\\"x\\"]",status=0i'),
    ("Program", {"k": 1.5}, 'value="{\\"k\\":1.5}",status=0i'),
])
def test_value_kinds(path: str, value: object, expected: str) -> None:
    text = line(path, value)
    assert text.endswith(f" {expected} 1714550400123")
    assert text.count("\n") == 0


def test_values_that_do_not_fit_their_type_are_typed_by_python_value() -> None:
    assert "value=\"fast\"," in line("Speed", "fast")
    assert "value=2.5," in line("Count", 2.5)
    assert "value=7i," in line("On", 7)


def test_points_without_metadata_are_typed_by_python_value_and_tagged_from_their_id() -> None:
    e = enc()
    sample = Sample("M9/Data/Temp.Inner", 4, TS, None, TS)
    assert e.encode(sample) == "aas,asset=M9,path=Temp.Inner,submodel=Data value=4i,status=0i 1714550400123"
    sample.value = 4.25
    assert fields(e.encode(sample)) == "value=4.25,status=0i"


def test_bad_sample_without_value_writes_only_status() -> None:
    text = line("Speed", None, status=BAD_NOT_CONNECTED)
    assert fields(text) == f"status={BAD_NOT_CONNECTED}i"
    assert BAD_NOT_CONNECTED == 2156527616


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_keep_only_status(value: float) -> None:
    assert fields(line("Speed", value, status=0x40900000)) == f"status={0x40900000}i"


def test_integer_beyond_int64_is_rejected_locally() -> None:
    records = [Record(1, Sample("CNC01/OperationalData/Big", 2**64 - 1, TS, None, TS)),
               Record(2, Sample("CNC01/OperationalData/Big", 5, TS, None, TS))]
    lines, encoded, failed = enc().encode_records(records)
    assert [r.seq for r in encoded] == [2] and len(lines) == 1
    assert failed[0][0].seq == 1 and "int64" in failed[0][1]


@pytest.mark.parametrize(("precision", "expected"), [
    ("ns", "1714550400123456789"), ("us", "1714550400123456"), ("ms", "1714550400123"), ("s", "1714550400"),
])
def test_timestamp_precision_is_integer_division(precision: str, expected: str) -> None:
    assert line("Speed", 1.0, encoder=enc(precision)).endswith(f" {expected}")


def test_timestamp_prefers_source_then_server_then_receive_time() -> None:
    e = LineEncoder("aas", [], "ns", POINTS)
    p = "CNC01/OperationalData/Speed"
    assert e.encode(Sample(p, 1.0, 10, 20, 30)).endswith(" 10")
    assert e.encode(Sample(p, 1.0, None, 20, 30)).endswith(" 20")
    assert e.encode(Sample(p, 1.0, None, None, 30)).endswith(" 30")
    # before 1970 (floor division, still an integer)
    assert e.encode(Sample(p, 1.0, -1, None, 30)).endswith(" -1")
    assert LineEncoder("aas", [], "ms", POINTS).encode(Sample(p, 1.0, -1, None, 30)).endswith(" -1")


def test_tag_selection_sorted_and_empty_tags_left_out() -> None:
    all_tags = ("unit", "semantic_id", "path", "submodel", "asset", "aas_id")
    text = line("Count", 1, encoder=enc(tags=all_tags))
    assert text.split(" ")[0] == ("aas,aas_id=urn:test:aas:CNC01,asset=CNC01,path=Count,"
                                  "semantic_id=0173-1#02-AAB381#003,submodel=OperationalData")  # no unit
    assert line("Count", 1, encoder=enc(tags=())).split(" ")[0] == "aas"
    assert line("Speed", 1, encoder=enc(tags=("path",))).split(" ")[0] == "aas,path=Speed"


def test_escaping() -> None:
    assert escape_measurement("my meas,x=y") == "my\\ meas\\,x=y"
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_tag("line\nbreak\ttab") == "line\\nbreak\\ttab"
    assert escape_tag("ends\\") == "ends\\\\"
    assert escape_string('q"b\\') == 'q\\"b\\\\'
    odd = {"x y/s,m=1/p q": PointMeta("x y/s,m=1/p q", "x y", "urn:a", "s,m=1", "p q", "xs:double", "m s")}
    text = LineEncoder("my aas", ["asset", "submodel", "path", "unit"], "s", odd).encode(
        Sample("x y/s,m=1/p q", 2.0, 3_000_000_000, None, 0))
    assert text == "my\\ aas,asset=x\\ y,path=p\\ q,submodel=s\\,m\\=1,unit=m\\ s value=2.0,status=0i 3"


def cfg(**kw: object) -> InfluxConfig:
    base: dict[str, object] = {"type": "influxdb", "url": "https://influx.example:8086/", "org": "Factory A",
                               "bucket": "line&1", "token": "s3cr3t-token"}
    base.update(kw)
    return InfluxConfig.model_validate(base)


def test_config_defaults_and_validation() -> None:
    c = cfg()
    assert (c.measurement, c.precision, c.batch_size, c.verify_ssl, c.gzip) == ("aas", "ms", 5000, True, False)
    assert c.tags == ["asset", "submodel", "path", "unit"] and c.url == "https://influx.example:8086"
    assert "s3cr3t" not in repr(c) and "s3cr3t" not in str(c.model_dump())
    for bad in ({"extra": 1}, {"precision": "m"}, {"tags": ["host"]}, {"tags": ["path", "path"]},
                {"url": "influx:8086"}, {"measurement": "#x"}, {"batch_size": 0}, {"type": "mqtt"}):
        with pytest.raises(ValidationError):
            cfg(**bad)


def test_linked_segment_names_org_and_bucket_never_the_token() -> None:
    endpoint, query = linked_segment(cfg(), "CNC01", "urn:test:aas:CNC01")
    assert endpoint == "https://influx.example:8086?org=Factory+A&bucket=line%261"
    assert "s3cr3t" not in endpoint and "s3cr3t" not in query
    assert query == ('from(bucket: "line&1")\n'
                     "  |> range(start: -1d)\n"
                     '  |> filter(fn: (r) => r._measurement == "aas" and r.asset == "CNC01")\n'
                     '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
    _, by_id = linked_segment(cfg(tags=["aas_id", "path"]), 'odd"asset', "urn:x")
    assert 'r.aas_id == "urn:x"' in by_id
    _, quoted = linked_segment(cfg(), 'odd"as${x}', "urn:x")
    assert 'r.asset == "odd\\"as\\${x}"' in quoted


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Wed, 01 May 2024 08:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 07:00:00 GMT", now) == 0.0
    assert parse_retry_after((now + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 3600.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


RICH = {m.point_id: m for m in [
    meta("Trend", "xs:double[]"), meta("Tool", "Structure"), meta("Label", "LocalizedText"),
    meta("Any", "Variant"), meta("Blob", "xs:base64Binary"), meta("Code", "StatusCode"), meta("Id", "NodeId"),
]}


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("Trend", [1.5, "NaN", 2.0], r'value="[1.5,\"NaN\",2.0]",status=0i'),
    ("Trend", [], 'value="[]",status=0i'),
    ("Tool", {"Id": 7, "Name": "Fräser"}, r'value="{\"Id\":7,\"Name\":\"Fräser\"}",status=0i'),
    ("Label", [{"de": "Bereit"}], r'value="[{\"de\":\"Bereit\"}]",status=0i'),
    ("Any", {"Type": "Double", "Value": 1.5}, r'value="{\"Type\":\"Double\",\"Value\":1.5}",status=0i'),
    ("Any", {"Type": "String", "Value": "x"}, r'value="{\"Type\":\"String\",\"Value\":\"x\"}",status=0i'),
    ("Blob", b"\x00\x01\xfe", 'value="AAH+",status=0i'),  # base64, never b'...' text
    ("Code", 0x80340000, "value=2150891520i,status=0i"),
    ("Id", 'ns=2;s=Line"A"', r'value="ns=2;s=Line\"A\"",status=0i'),
])
def test_rich_types_have_one_field_type_per_series(path: str, value: object, expected: str) -> None:
    """Arrays, structures, LocalizedText and Variants are always a JSON string field, whatever the shape."""
    e = LineEncoder("aas", ("path",), "ms", RICH)
    assert fields(e.encode(Sample(f"CNC01/OperationalData/{path}", value, TS, None, TS, GOOD))) == expected
