"""Append/flush/query round trips, read semantics, cursors, lifecycle, backpressure and write errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors import status
from connectors.sample import Sample, now_ns
from gateway.config import HistorianSettings
from gateway.historian import SCHEMA_VERSION, Historian, HistorianClosedError, SchemaError, UnknownPointError, store
from tests.historian.conftest import make_settings, poll, sample
from tests.historian.stored import read_since

T0 = 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("value_type", "value"),
    [
        ("xs:double", 3.25),
        ("xs:double", -0.0),
        ("xs:double", float("inf")),
        ("xs:int", -42),
        ("xs:long", 2**63 - 1),
        ("xs:unsignedLong", 2**64 - 1),
        ("xs:boolean", True),
        ("xs:boolean", False),
        ("xs:string", "Spindel läuft ✓"),
        ("xs:string", ""),
        (None, b"\x00\xffraw"),
        ("xs:double", [1.5, 2.5, 3.0]),
        ("xs:int", {"a": [1, 2]}),
    ],
)
async def test_round_trip_of_every_value_kind(historian: Historian, value_type: str | None, value: object) -> None:
    await historian.register_series("cnc1/Op/X", value_type, None)
    await historian.append([sample("cnc1/Op/X", value, T0)])
    await historian.flush()
    (row,) = await historian.query("cnc1", "Op", "X")
    assert row.value == value
    assert type(row.value) is type(value)
    assert (row.ts, row.status, row.source_ts, row.server_ts, row.recv_ts) == (T0, 0, T0, None, T0 + 1000)


async def test_bad_sample_without_value(historian: Historian) -> None:
    await historian.register_series("cnc1/Op/X", "xs:double", "mm")
    await historian.append([Sample("cnc1/Op/X", None, None, None, T0, status.BAD_NOT_CONNECTED)])
    await historian.flush()
    (row,) = await historian.query("cnc1", "Op", "X")
    assert row.value is None and row.status == status.BAD_NOT_CONNECTED
    assert row.ts == T0  # filed under the receive time when there is no source or server time


async def test_string_series_keeps_list_as_json_text(historian: Historian) -> None:
    await historian.register_series("cnc1/Op/S", "xs:string", None)
    await historian.append([sample("cnc1/Op/S", [1, 2], T0), sample("cnc1/Op/S", "[1, 2]", T0 + 1)])
    await historian.flush()
    assert [r.value for r in await historian.query("cnc1", "Op", "S")] == ["[1,2]", "[1, 2]"]


async def test_timestamp_preference(historian: Historian) -> None:
    await historian.register_series("a/s/p", "xs:int", None)
    await historian.append([
        Sample("a/s/p", 1, T0 + 10, T0 + 20, T0 + 30),
        Sample("a/s/p", 2, None, T0 + 21, T0 + 31),
        Sample("a/s/p", 3, None, None, T0 + 32),
    ])
    await historian.flush()
    rows = await historian.query("a", "s", "p")
    assert [(r.value, r.ts) for r in rows] == [(1, T0 + 10), (2, T0 + 21), (3, T0 + 32)]
    assert [(r.source_ts, r.server_ts, r.recv_ts) for r in rows] == [
        (T0 + 10, T0 + 20, T0 + 30), (None, T0 + 21, T0 + 31), (None, None, T0 + 32)]


async def test_time_range_is_half_open_and_limit_applies(historian: Historian) -> None:
    await historian.register_series("a/s/p", "xs:int", None)
    await historian.register_series("a/s/other", "xs:int", None)
    await historian.append([sample("a/s/p", i, T0 + i * 10) for i in range(10)])
    await historian.append([sample("a/s/other", 99, T0 + 50)])
    await historian.flush()

    async def values(**kw: Any) -> list[int]:
        return [r.value for r in await historian.query("a", "s", "p", **kw)]

    assert await values() == list(range(10))
    assert await values(start_ns=T0 + 20, end_ns=T0 + 50) == [2, 3, 4]
    assert await values(start_ns=T0 + 21) == [3, 4, 5, 6, 7, 8, 9]
    assert await values(end_ns=T0 + 10) == [0]
    assert await values(start_ns=T0 + 20, end_ns=T0 + 20) == []
    assert await values(limit=3) == [0, 1, 2]
    assert await values(limit=3, descending=True) == [9, 8, 7]
    assert await values(start_ns=T0, end_ns=T0 + 50, limit=2, descending=True) == [4, 3]
    assert await values(limit=0) == []


async def test_equal_timestamps_keep_insertion_order(historian: Historian) -> None:
    await historian.register_series("a/s/p", "xs:int", None)
    await historian.append([sample("a/s/p", i, T0) for i in range(5)])
    await historian.flush()
    assert [r.value for r in await historian.query("a", "s", "p")] == [0, 1, 2, 3, 4]
    latest = await historian.latest("a/s/p")
    assert latest is not None and latest.value == 4


async def test_latest_series_count_stats(historian: Historian) -> None:
    sid = await historian.register_series("cnc1/Op/Spindle/Speed", "xs:double", "1/min")
    await historian.register_series("cnc2/Op/T", "xs:double", "degC")
    assert await historian.latest("cnc1/Op/Spindle/Speed") is None
    await historian.append([sample("cnc1/Op/Spindle/Speed", float(i), T0 + i) for i in (3, 1, 2)])
    await historian.append([sample("cnc2/Op/T", 20.0, T0 - 5)])
    await historian.flush()

    latest = await historian.latest("cnc1/Op/Spindle/Speed")
    assert latest is not None and latest.value == 3.0
    infos = await historian.series()
    first = infos[0]
    assert (first.id, first.point_id, first.asset, first.submodel, first.path, first.value_type, first.unit) == (
        sid, "cnc1/Op/Spindle/Speed", "cnc1", "Op", "Spindle/Speed", "xs:double", "1/min")
    assert await historian.count() == 4
    assert await historian.count("cnc1/Op/Spindle/Speed") == 3
    st = await historian.stats()
    assert (st.rows, st.series, st.oldest_ts, st.newest_ts, st.pending, st.healthy) == (4, 2, T0 - 5, T0 + 3, 0, True)
    assert st.file_bytes > 0 and st.used_bytes > 0


async def test_register_series_is_idempotent_and_updates(historian: Historian) -> None:
    a = await historian.register_series("a/s/p", "xs:int", None)
    assert await historian.register_series("a/s/p", "xs:int", None) == a
    assert await historian.register_series("a/s/p", "xs:boolean", "-") == a
    (info,) = await historian.series()
    assert (info.value_type, info.unit) == ("xs:boolean", "-")
    await historian.append([sample("a/s/p", True, T0)])
    await historian.flush()
    assert (await historian.query("a", "s", "p"))[0].value is True
    with pytest.raises(ValueError, match="asset/submodel/idShortPath"):
        await historian.register_series("a/s", "xs:int", None)


async def test_unknown_point_is_refused_and_nothing_queued(historian: Historian) -> None:
    await historian.register_series("a/s/p", "xs:int", None)
    with pytest.raises(UnknownPointError, match="nope/s/p"):
        await historian.append([sample("a/s/p", 1, T0), sample("nope/s/p", 2, T0)])
    await historian.flush()
    assert await historian.count() == 0
    with pytest.raises(UnknownPointError):
        await historian.query("nope", "s", "p")


async def test_read_since_in_seq_order(historian: Historian) -> None:
    await historian.register_series("a/s/p", "xs:boolean", None)
    await historian.register_series("a/s/q", "xs:double", None)
    await historian.append([sample("a/s/p", True, T0 + 5), sample("a/s/q", 1.5, T0), sample("a/s/p", False, T0 + 1)])
    await historian.flush()
    got = await read_since(historian, 0, 10)
    assert [(g.point, g.value, g.ts) for g in got] == [
        ("a/s/p", True, T0 + 5), ("a/s/q", 1.5, T0), ("a/s/p", False, T0 + 1)]
    assert [g.seq for g in got] == sorted(g.seq for g in got)
    assert [g.value for g in await read_since(historian, got[0].seq, 1)] == [1.5]
    assert await read_since(historian, got[-1].seq, 10) == []
    s = got[0].to_sample()
    assert (s.point, s.value, s.ts, s.received_ts) == ("a/s/p", True, T0 + 5, T0 + 5 + 1000)


async def test_cursors_persist_across_reopen(settings: HistorianSettings) -> None:
    async with Historian(settings) as h:
        assert await h.get_cursor("influx") is None
        await h.set_cursor("influx", 41)
        await h.set_cursor("influx", 42)
        await h.set_cursor("mqtt", 7)
        await h.delete_cursor("mqtt")
    async with Historian(settings) as h:
        assert await h.get_cursor("influx") == 42
        assert await h.get_cursor("mqtt") is None
        with pytest.raises(ValueError):
            await h.set_cursor("x", -1)


async def test_close_flushes_pending_rows(tmp_path: Path) -> None:
    # a commit interval far longer than the test: only close() can have written the rows
    settings = make_settings(tmp_path / "h.sqlite", commit_interval_ms=600_000)
    h = Historian(settings)
    await h.open()
    await h.register_series("a/s/p", "xs:int", None)
    await h.append([sample("a/s/p", i, T0 + i) for i in range(1234)])
    assert h.pending_rows == 1234
    await h.close()
    await h.close()  # idempotent
    assert not h.is_open
    with pytest.raises(HistorianClosedError):
        await h.append([sample("a/s/p", 1, T0)])
    async with Historian(settings) as h2:
        assert await h2.count("a/s/p") == 1234
        assert [r.value for r in await h2.query("a", "s", "p", limit=3, descending=True)] == [1233, 1232, 1231]


async def test_flush_commits_without_waiting_for_the_interval(tmp_path: Path) -> None:
    async with Historian(make_settings(tmp_path / "h.sqlite", commit_interval_ms=600_000)) as h:
        await h.register_series("a/s/p", "xs:int", None)
        await h.append([sample("a/s/p", 1, T0)])
        await asyncio.wait_for(h.flush(), 10)
        assert await h.count() == 1


async def test_batches_are_split_at_max_batch(tmp_path: Path, registry: CollectorRegistry) -> None:
    async with Historian(make_settings(tmp_path / "h.sqlite", max_batch=100), registry) as h:
        await h.register_series("a/s/p", "xs:int", None)
        await h.append([sample("a/s/p", i, T0 + i) for i in range(1050)])
        await h.flush()
        assert await h.count() == 1050
    assert registry.get_sample_value("gateway_historian_rows_written_total") == 1050
    assert (registry.get_sample_value("gateway_historian_commits_total") or 0) >= 11
    assert (registry.get_sample_value("gateway_historian_commit_seconds_count") or 0) >= 11
    assert registry.get_sample_value("gateway_historian_pending_rows") == 0


async def test_backpressure_and_write_errors(tmp_path: Path, registry: CollectorRegistry,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 50)
    settings = make_settings(tmp_path / "h.sqlite", commit_interval_ms=1, max_pending=1000)
    async with Historian(settings, registry) as h:
        await h.register_series("a/s/p", "xs:int", None)
        # another process holds the write lock: every commit fails with "database is locked"
        blocker = sqlite3.connect(settings.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            await h.append([sample("a/s/p", i, T0 + i) for i in range(1000)])  # fills the queue, returns
            await poll(lambda: not h.healthy, what="the writer to report the failure")
            assert "locked" in (h.last_error or "")
            blocked = asyncio.create_task(h.append([sample("a/s/p", 1000, T0 + 1000)]))
            await asyncio.sleep(0.2)  # not synchronisation: give it the chance to (wrongly) return
            assert not blocked.done()
            assert h.pending_rows == 1000
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await asyncio.wait_for(blocked, 20)
        await h.flush()
        assert h.healthy and h.last_error is None
        assert await h.count() == 1001
        assert [r.value for r in await h.query("a", "s", "p", limit=2000)] == list(range(1001))
    assert (registry.get_sample_value("gateway_historian_write_errors_total") or 0) >= 1
    assert registry.get_sample_value("gateway_historian_healthy") == 1


async def test_unstorable_row_is_dropped_not_blocking(historian: Historian, registry: CollectorRegistry) -> None:
    await historian.register_series("a/s/p", "xs:string", None)
    values = ["ok1", "bad\ud800", "ok2"]
    await historian.append([sample("a/s/p", v, T0 + i) for i, v in enumerate(values)])
    await asyncio.wait_for(historian.flush(), 10)
    assert [r.value for r in await historian.query("a", "s", "p")] == ["ok1", "ok2"]
    assert registry.get_sample_value("gateway_historian_rejected_rows_total") == 1
    assert historian.healthy


async def test_schema_and_pragmas(historian: Historian, settings: HistorianSettings) -> None:
    con = sqlite3.connect(settings.path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"series", "samples", "cursors", "dead_letters"} <= tables
        assert con.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
    finally:
        con.close()


async def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    async with Historian(make_settings(path)):
        pass
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(SchemaError, match="newer"):
        async with Historian(make_settings(path)):
            pass


async def test_many_small_appends_from_concurrent_tasks(historian: Historian) -> None:
    points = [f"m{i}/Op/v" for i in range(8)]
    for p in points:
        await historian.register_series(p, "xs:double", None)

    async def source(p: str) -> None:
        for i in range(200):
            await historian.append([Sample(p, float(i), None, None, now_ns())])

    await asyncio.gather(*(source(p) for p in points))
    await historian.flush()
    for p in points:
        asset, submodel, path = p.split("/")
        rows = await historian.query(asset, submodel, path, limit=1000)
        assert [r.value for r in rows] == [float(i) for i in range(200)]


async def test_close_gives_up_loudly_when_the_database_stays_unwritable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(store, "CLOSE_TIMEOUT_S", 0.3)
    settings = make_settings(tmp_path / "h.sqlite", commit_interval_ms=1)
    h = Historian(settings)
    await h.open()
    await h.register_series("a/s/p", "xs:int", None)
    blocker = sqlite3.connect(settings.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        await h.append([sample("a/s/p", 1, T0)])
        await poll(lambda: not h.healthy, what="the writer to report the failure")
        await asyncio.wait_for(h.close(), 20)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "1 samples that could not be written" in caplog.text
