"""The forwarders' fast path: historian rows handed over as a RecordBatch must say what Records say.

The InfluxDB encoder formats straight from the rows; these tests hold it to the same lines, the same
rejections and the same Records as the object path, for every kind of stored value.
"""

from __future__ import annotations

import math
from typing import Any

from connectors.base import PointMeta
from connectors.batch import RecordBatch
from connectors.influx.lineprotocol import LineEncoder
from gateway.historian import Historian
from tests.historian.conftest import sample

SERIES: dict[str, tuple[str | None, list[Any]]] = {
    "M/OperationalData/Speed": ("xs:double", [1.5, 21, -0.0, float("inf"), float("nan"), None, 1e300]),
    "M/OperationalData/Count": ("xs:int", [0, 7, 2**62, 2**70, -5, 3.0, None]),
    "M/OperationalData/Running": ("xs:boolean", [True, False, 1, 0, None, True, False]),
    "M/OperationalData/Program": ("xs:string", ["a b,c=\"d\"\n", "", "x", None, "\\", "ü", "y"]),
    "M/OperationalData/Json": (None, [[1, 2], {"a": 1}, "s", 1.25, None, 3, True]),
}


async def _filled(historian: Historian) -> None:
    for pid, (vt, _) in SERIES.items():
        await historian.register_series(pid, vt, None)
    ts = 10**18
    for k in range(7):
        for pid, (_, values) in SERIES.items():
            ts += 1_000_000
            await historian.append([sample(pid, values[k], ts, status=0 if values[k] is not None else 0x80000000)])
    await historian.flush()


def _meta() -> dict[str, PointMeta]:
    return {pid: PointMeta(pid, "M", "urn:m", "OperationalData", pid.rsplit("/", 1)[1], vt or "", None, None)
            for pid, (vt, _) in SERIES.items()}


async def test_batch_reads_as_the_records_it_holds(historian: Historian) -> None:
    await _filled(historian)
    batch = await historian.read_batch(0, 100)
    records = await historian.read_records(0, 100)
    assert isinstance(batch, RecordBatch) and len(batch) == len(records) == 35
    assert batch.last_seq == records[-1].seq
    for got, want in zip(batch, records, strict=True):
        assert got.seq == want.seq and got.sample.point == want.sample.point
        assert got.sample.ts == want.sample.ts and got.sample.status == want.sample.status
        v, w = got.sample.value, want.sample.value
        assert (isinstance(v, float) and math.isnan(v) and math.isnan(w)) or (v == w and type(v) is type(w))
    assert batch[-1] == batch.records()[-1] and batch[2:4] == batch.records()[2:4]
    assert (await historian.read_batch(batch.last_seq, 10)).rows == []


async def test_encode_batch_equals_encoding_records(historian: Historian) -> None:
    await _filled(historian)
    enc_rows = LineEncoder("aas", ["asset", "path", "unit"], "ms", _meta())
    enc_objs = LineEncoder("aas", ["asset", "path", "unit"], "ms", _meta())
    batch = await historian.read_batch(0, 100)
    lines, positions, failed = enc_rows.encode_batch(batch)
    want_lines, want_records, want_failed = enc_objs.encode_records(await historian.read_records(0, 100))
    assert lines == want_lines
    assert [batch[i].seq for i in positions] == [r.seq for r in want_records]
    assert [(r.seq, why) for r, why in failed] == [(r.seq, why) for r, why in want_failed]
    assert len(failed) == 1 and "int64" in failed[0][1]  # 2**70 cannot be carried


async def test_encode_batch_equals_encoding_records_when_config_and_history_disagree(historian: Historian) -> None:
    # the config's type (the encoder's kind) may differ from the type a series was stored under, say a
    # point changed from xs:int to xs:boolean: the fast paths for stored ints must not apply then
    await _filled(historian)
    for types in (["xs:boolean", "xs:double", "xs:int", "xs:int", "xs:boolean"],
                  ["xs:int", "xs:boolean", "xs:double", "xs:double", "xs:int"]):
        meta = {pid: PointMeta(pid, "M", "urn:m", "OperationalData", pid.rsplit("/", 1)[1], vt, None, None)
                for pid, vt in zip(SERIES, types, strict=True)}
        batch = await historian.read_batch(0, 100)
        lines, positions, failed = LineEncoder("aas", ["path"], "ms", meta).encode_batch(batch)
        want_lines, want_records, want_failed = LineEncoder("aas", ["path"], "ms", meta).encode_records(
            await historian.read_records(0, 100))
        assert lines == want_lines
        assert [batch.rows[i][0] for i in positions] == [r.seq for r in want_records]
        assert [(r.seq, why) for r, why in failed] == [(r.seq, why) for r, why in want_failed]


async def test_records_of_a_batch_carry_all_three_timestamps(historian: Historian) -> None:
    await historian.register_series("M/OperationalData/Speed", "xs:double", None)
    await historian.append([sample("M/OperationalData/Speed", 1.0, 10**18, server_ts=10**18 + 5,
                                   received_ts=10**18 + 9)])
    await historian.flush()
    batch = await historian.read_batch(0, 10)
    assert batch.rows == [(1, batch.rows[0][1], 1.0, 0, 10**18)]  # a row: what a line needs
    got = batch[0].sample
    assert (got.source_ts, got.server_ts, got.received_ts) == (10**18, 10**18 + 5, 10**18 + 9)


async def test_unknown_series_is_encoded_by_its_python_value(historian: Historian) -> None:
    await _filled(historian)
    batch = await historian.read_batch(0, 100)
    orphan = RecordBatch([(1, 999, 2.5, 0, 5_000_000)], batch.series,
                         lambda _first, _last: {1: (5_000_000, None, 5_000_000)})
    encoder = LineEncoder("aas", ["asset", "path"], "ms", {})
    lines, _, _ = encoder.encode_batch(orphan)
    assert orphan[0].sample.point == "#999"
    assert lines == [encoder.encode(orphan[0].sample)] == ["aas,asset=#999 value=2.5,status=0i 5"]
