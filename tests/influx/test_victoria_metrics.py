"""The InfluxDB sink against a real line-protocol TSDB (VictoriaMetrics), read back through its export API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.base import PointMeta, Record, TransientError
from connectors.influx import InfluxConfig, InfluxSink
from connectors.sample import Sample
from connectors.status import BAD_NOT_CONNECTED
from tests.conftest import wait_for
from tests.influx.conftest import VictoriaMetrics

BASE_NS = 1_577_836_800_000_000_000  # 2020-01-01T00:00:00Z: years old, like a long historian replay
SUB_MS = 654_321  # nanoseconds below the millisecond: must be cut off, not rounded

META = {m.point_id: m for m in [
    PointMeta("CNC01/OperationalData/Spindle.Speed", "CNC01", "urn:test:aas:CNC01", "OperationalData",
              "Spindle.Speed", "xs:double", "1/min"),
    PointMeta("CNC01/OperationalData/PartCount", "CNC01", "urn:test:aas:CNC01", "OperationalData",
              "PartCount", "xs:int"),
    PointMeta("CNC01/OperationalData/DoorOpen", "CNC01", "urn:test:aas:CNC01", "OperationalData",
              "DoorOpen", "xs:boolean"),
]}
SPEED, COUNT, DOOR = META


def samples(n: int, offset: int = 0) -> list[Record]:
    """n samples of each point, interleaved, 10 ms apart (plus sub-ms noise)."""
    out: list[Record] = []
    for i in range(offset, offset + n):
        ts = BASE_NS + i * 10_000_000 + SUB_MS
        out.append(Record(len(out) + 1, Sample(SPEED, 1000.0 + i * 0.25, ts, None, ts + 1)))
        out.append(Record(len(out) + 1, Sample(COUNT, i, ts, None, ts + 1)))
        out.append(Record(len(out) + 1, Sample(DOOR, i % 3 == 0, ts, None, ts + 1)))
    return out


def series(vm: VictoriaMetrics) -> dict[tuple[str, str], dict[int, float]]:
    """{(metric, path): {ms timestamp: value}} with every stored sample; duplicates would fail the test."""
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for row in vm.export('{__name__=~"aas_.*"}'):
        key = (row["metric"]["__name__"], row["metric"]["path"])
        for ts, value in zip(row["timestamps"], row["values"], strict=True):
            assert ts not in out[key], f"duplicate sample {key} at {ts}"
            out[key][ts] = value
    return out


def stored(vm: VictoriaMetrics) -> int:
    return sum(len(row["values"]) for row in vm.export('{__name__=~"aas_.*"}'))


async def wait_stored(vm: VictoriaMetrics, count: int) -> None:
    # export() forces a flush; polling still guards against rows in flight, then the count must be exact
    await wait_for(lambda: stored(vm) >= count, timeout=20, message=f"{count} samples in VictoriaMetrics")
    assert stored(vm) == count


@pytest.fixture
async def sink(victoria_metrics: VictoriaMetrics) -> AsyncIterator[InfluxSink]:
    cfg = InfluxConfig(type="influxdb", url=victoria_metrics.url, org="factory", bucket="line1", timeout_s=5)
    s = InfluxSink("vm", cfg, META)
    await s.start()
    yield s
    await s.close()


async def test_numeric_and_boolean_samples_round_trip(victoria_metrics: VictoriaMetrics, sink: InfluxSink) -> None:
    n = 2000
    batch = samples(n)
    ts_bad = BASE_NS + n * 10_000_000 + SUB_MS
    batch.append(Record(len(batch) + 1, Sample(SPEED, None, ts_bad, None, ts_bad, BAD_NOT_CONNECTED)))
    result = await sink.send(batch, historical_before_ns=BASE_NS + 10**18)
    assert result.delivered == 3 * n + 1 and result.rejected == []
    assert sink.batches_written == 2  # 6,001 lines in requests of batch_size 5,000

    await wait_stored(victoria_metrics, 2 * (3 * n) + 1)  # value + status per sample, status only for the bad one
    got = series(victoria_metrics)
    ms = [(BASE_NS + i * 10_000_000) // 1_000_000 for i in range(n)]
    assert got[("aas_value", "Spindle.Speed")] == {t: 1000.0 + i * 0.25 for i, t in enumerate(ms)}
    assert got[("aas_value", "PartCount")] == {t: float(i) for i, t in enumerate(ms)}
    assert got[("aas_value", "DoorOpen")] == {t: 1.0 if i % 3 == 0 else 0.0 for i, t in enumerate(ms)}
    assert got[("aas_status", "PartCount")] == dict.fromkeys(ms, 0.0)
    assert got[("aas_status", "Spindle.Speed")] == {**dict.fromkeys(ms, 0.0), ts_bad // 1_000_000: BAD_NOT_CONNECTED}

    labels: list[dict[str, Any]] = [row["metric"] for row in victoria_metrics.export('{__name__="aas_value"}')]
    assert {"__name__": "aas_value", "asset": "CNC01", "submodel": "OperationalData", "path": "Spindle.Speed",
            "unit": "1/min"} in labels
    assert {"__name__": "aas_value", "asset": "CNC01", "submodel": "OperationalData", "path": "DoorOpen"} in labels
    assert sink.points_written == 3 * n + 1


async def test_stopped_server_is_transient_and_the_retried_batch_lands(victoria_metrics: VictoriaMetrics,
                                                                       sink: InfluxSink) -> None:
    assert (await sink.send(samples(10), 0)).delivered == 30
    await wait_stored(victoria_metrics, 60)

    victoria_metrics.stop()
    retried = samples(10, offset=10)
    with pytest.raises(TransientError, match="cannot reach InfluxDB"):
        await sink.send(retried, 0)
    with pytest.raises(TransientError):
        await sink.send(retried, 0)
    assert sink.retries == 2

    victoria_metrics.restart()  # same port and data directory
    assert (await sink.send(retried, 0)).delivered == 30
    await wait_stored(victoria_metrics, 120)
    assert len(series(victoria_metrics)[("aas_value", "PartCount")]) == 20


async def test_precision_seconds(victoria_metrics: VictoriaMetrics) -> None:
    cfg = InfluxConfig(type="influxdb", url=victoria_metrics.url, org="o", bucket="b", precision="s",
                       measurement="plant data", tags=["path"])
    s = InfluxSink("vm-s", cfg, META)
    await s.start()
    try:
        ts = BASE_NS + 1_999_999_999
        assert (await s.send([Record(1, Sample(COUNT, 7, ts, None, ts))], 0)).delivered == 1
    finally:
        await s.close()
    await wait_for(lambda: victoria_metrics.export('{__name__="plant data_value"}'), timeout=20,
                   message="the sample in VictoriaMetrics")
    [row] = victoria_metrics.export('{__name__="plant data_value"}')
    assert row["metric"] == {"__name__": "plant data_value", "path": "PartCount"}
    assert row["values"] == [7] and row["timestamps"] == [(BASE_NS // 1_000_000_000 + 1) * 1000]
