"""Error paths of the InfluxDB sink against a scripted /api/v2/write peer (see conftest.FakeInflux)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest

from connectors.base import PointMeta, Record, TransientError
from connectors.batch import BatchSeries, RecordBatch
from connectors.influx import InfluxConfig, InfluxSink
from connectors.influx.lineprotocol import LineEncoder
from connectors.influx.sink import MAX_ISOLATION_REQUESTS
from connectors.sample import Sample
from tests.influx.conftest import FakeInflux, Reply, influx_error
from tests.secrets import secret

TOKEN = secret("tok-3f9a-very-secret")
BASE_NS = 1_600_000_000_000_000_000


def records(n: int, bad: set[int] = frozenset(), start_seq: int = 1) -> list[Record]:  # type: ignore[assignment]
    """n records of point CNC01/Data/P{i % 4}; those with index in `bad` carry the marker BAD in their path."""
    out = []
    for i in range(n):
        path = f"BAD{i}" if i in bad else f"P{i % 4}"
        out.append(Record(start_seq + i, Sample(f"CNC01/Data/{path}", float(i), BASE_NS + i * 1_000_000, None, 0)))
    return out


def row_batch(recs: list[Record]) -> RecordBatch:
    """The same records as the historian hands them to forwarders (rows + series), for the sink's fast path."""
    ids = {p: i for i, p in enumerate(sorted({r.sample.point for r in recs}), start=1)}
    rows = [(r.seq, ids[r.sample.point], r.sample.value, r.sample.status, r.sample.ts) for r in recs]
    times = {r.seq: (r.sample.source_ts, r.sample.server_ts, r.sample.received_ts) for r in recs}
    return RecordBatch(rows, {i: BatchSeries(p, None) for p, i in ids.items()},
                       lambda first, last: {s: t for s, t in times.items() if first <= s <= last})


META = {f"CNC01/Data/P{k}": PointMeta(f"CNC01/Data/P{k}", "CNC01", "urn:a", "Data", f"P{k}", "xs:double")
        for k in range(4)}

SinkFactory = Callable[..., InfluxSink]


@pytest.fixture
async def make_sink(fake_influx: FakeInflux) -> AsyncIterator[SinkFactory]:
    sinks: list[InfluxSink] = []

    def make(**kw: object) -> InfluxSink:
        cfg = InfluxConfig.model_validate({"type": "influxdb", "url": fake_influx.url, "org": "o", "bucket": "b",
                                           "token": TOKEN, "timeout_s": 5, **kw})
        sink = InfluxSink("influx-test", cfg, META)
        sinks.append(sink)
        return sink

    yield make
    for s in sinks:
        await s.close()


def reject_marked(status: int = 400, name_line: bool = False) -> Callable[[list[str]], Reply]:
    def respond(lines: list[str]) -> Reply:
        bad = [ln for ln in lines if "BAD" in ln]
        if not bad:
            return 204, {}, ""
        if name_line:  # InfluxDB 2 quotes the first line it cannot parse
            return status, {}, influx_error(f"unable to parse '{bad[0]}': invalid field format")
        return status, {}, influx_error("partial write: field type conflict dropped=1")
    return respond


async def test_good_batch_is_written_in_order_with_token_and_precision(fake_influx: FakeInflux,
                                                                       make_sink: SinkFactory) -> None:
    sink = make_sink(batch_size=4)
    await sink.start()
    result = await sink.send(records(10), historical_before_ns=0)
    assert result.delivered == 10 and result.rejected == []
    assert [len(r) for r in fake_influx.requests] == [4, 4, 2]  # batch_size lines per request
    assert [float(ln.split("value=")[1].split(",")[0]) for ln in fake_influx.accepted] == [float(i) for i in range(10)]
    assert fake_influx.headers[0]["Authorization"] == f"Token {TOKEN}"
    assert (sink.points_written, sink.batches_written, sink.rejected, sink.retries) == (10, 3, 0, 0)


async def test_gzip(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    sink = make_sink(gzip=True)
    await sink.start()
    assert (await sink.send(records(3), 0)).delivered == 3
    assert fake_influx.headers[0].get("Content-Encoding") == "gzip" and len(fake_influx.accepted) == 3


@pytest.mark.parametrize("status", [400, 422])
async def test_bad_records_are_isolated_by_bisection(fake_influx: FakeInflux, make_sink: SinkFactory,
                                                     status: int) -> None:
    fake_influx.respond = reject_marked(status)
    sink = make_sink()
    await sink.start()
    batch = records(1000, bad={17, 500, 999})
    result = await sink.send(batch, 0)
    assert [r.seq for r, _ in result.rejected] == [18, 501, 1000]
    expected = f"HTTP {status}: partial write: field type conflict dropped=1"
    assert all(reason == expected for _, reason in result.rejected)
    assert result.delivered == 997
    assert len(fake_influx.accepted) == 997 and not any("BAD" in ln for ln in fake_influx.accepted)
    assert len(fake_influx.requests) < 70  # ~2 x 3 x log2(1000)
    assert sink.rejected == 3 and sink.points_written == 997


async def test_historian_batches_are_isolated_like_records(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    fake_influx.respond = reject_marked()
    sink = make_sink()
    await sink.start()
    recs = records(1000, bad={0, 17, 500, 999})
    result = await sink.send(row_batch(recs), 0)
    assert [r.seq for r, _ in result.rejected] == [1, 18, 501, 1000]
    assert result.rejected[0][0].sample.point == "CNC01/Data/BAD0" and result.rejected[0][0].sample.value == 0.0
    assert result.delivered == 996 and sorted(fake_influx.accepted) == sorted(
        ln for ln in _lines_of(recs) if "BAD" not in ln)


def _lines_of(recs: list[Record]) -> list[str]:
    return LineEncoder("aas", InfluxConfig.model_fields["tags"].get_default(call_default_factory=True), "ms",
                       META).encode_records(recs)[0]


@pytest.mark.parametrize("as_rows", [False, True], ids=["records", "historian-rows"])
async def test_lines_the_server_names_are_rejected_without_bisection(fake_influx: FakeInflux,
                                                                     make_sink: SinkFactory, as_rows: bool) -> None:
    fake_influx.respond = reject_marked(name_line=True)
    sink = make_sink()
    await sink.start()
    recs = records(1000, bad={3, 700})
    result = await sink.send(row_batch(recs) if as_rows else recs, 0)
    assert [r.seq for r, _ in result.rejected] == [4, 701]
    assert result.rejected[0][1].startswith("HTTP 400: unable to parse 'aas,asset=CNC01,path=BAD3,")
    assert result.delivered == 998 and len(fake_influx.requests) == 3


async def test_413_splits_the_batch(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    fake_influx.respond = lambda lines: (413, {}, "request too large") if len(lines) > 100 else (204, {}, "")
    sink = make_sink()
    await sink.start()
    result = await sink.send(records(1000), 0)
    assert result.delivered == 1000 and not result.rejected
    assert len(fake_influx.accepted) == 1000


async def test_isolation_work_is_bounded(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    fake_influx.respond = reject_marked()
    sink = make_sink()
    await sink.start()
    bad = set(range(0, 4000, 7))  # 572 bad records scattered everywhere
    result = await sink.send(records(4000, bad=bad), 0)
    assert result.delivered + len(result.rejected) == 4000
    assert {r.seq - 1 for r, _ in result.rejected} >= bad
    assert len(fake_influx.requests) <= MAX_ISOLATION_REQUESTS + 30
    assert any("not split further" in reason for _, reason in result.rejected)
    assert not any("BAD" in ln for ln in fake_influx.accepted)


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)])
async def test_429_is_transient_with_retry_after(fake_influx: FakeInflux, make_sink: SinkFactory,
                                                 header: str, expected: float) -> None:
    fake_influx.respond = lambda lines: (429, {"Retry-After": header}, influx_error("too many requests"))
    sink = make_sink()
    await sink.start()
    with pytest.raises(TransientError) as info:
        await sink.send(records(5), 0)
    assert info.value.retry_after_s == expected
    assert "429" in str(info.value) and sink.retries == 1 and sink.points_written == 0
    fake_influx.respond = lambda lines: (204, {}, "")
    assert (await sink.send(records(5), 0)).delivered == 5


async def test_503_is_transient_even_while_isolating(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    calls = []

    def respond(lines: list[str]) -> Reply:
        calls.append(len(lines))
        if len(calls) == 1:
            return 400, {}, influx_error("bad line somewhere")
        return 503, {}, "<html>service unavailable</html>"

    fake_influx.respond = respond
    sink = make_sink()
    await sink.start()
    with pytest.raises(TransientError, match="HTTP 503") as info:
        await sink.send(records(10, bad={2}), 0)
    assert info.value.retry_after_s is None


@pytest.mark.parametrize("status", [401, 403])
async def test_bad_token_is_transient_and_named_never_printed(fake_influx: FakeInflux, make_sink: SinkFactory,
                                                              caplog: pytest.LogCaptureFixture, status: int) -> None:
    fake_influx.respond = lambda lines: (status, {}, influx_error("unauthorized access"))
    sink = make_sink()
    await sink.start()
    with caplog.at_level(logging.DEBUG), pytest.raises(TransientError) as info:
        await sink.send(records(5), 0)
    assert "token refused" in str(info.value) and f"HTTP {status}" in str(info.value)
    assert "token refused" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(info.value)


async def test_missing_bucket_is_transient(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    fake_influx.respond = lambda lines: (404, {}, influx_error('bucket "b" not found'))
    sink = make_sink()
    await sink.start()
    with pytest.raises(TransientError, match="check org and bucket"):
        await sink.send(records(5), 0)


async def test_unreachable_server_is_transient_and_start_does_not_need_it(make_sink: SinkFactory) -> None:
    from tests.influx.conftest import free_port

    sink = make_sink(url=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    await sink.start()  # nothing listens: start must still succeed
    with pytest.raises(TransientError, match="cannot reach InfluxDB"):
        await sink.send(records(3), 0)
    assert sink.retries == 1


async def test_timeout_is_transient(fake_influx: FakeInflux, make_sink: SinkFactory) -> None:
    import threading

    release = threading.Event()

    def respond(lines: list[str]) -> Reply:
        release.wait(5)
        return 204, {}, ""

    fake_influx.respond = respond
    sink = make_sink(timeout_s=0.3)
    await sink.start()
    try:
        with pytest.raises(TransientError, match=r"cannot reach InfluxDB.*[Tt]imeout"):
            await sink.send(records(3), 0)
    finally:
        release.set()


async def test_send_before_start_is_a_programming_error(make_sink: SinkFactory) -> None:
    with pytest.raises(RuntimeError):
        await make_sink().send(records(1), 0)
