"""Retention by age and by size, never past the smallest forwarder cursor."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable
from pathlib import Path

from prometheus_client import CollectorRegistry

from connectors.sample import now_ns
from gateway.config import HistorianSettings, RetentionConfig
from gateway.historian import Historian
from tests.historian.conftest import make_settings, poll, sample
from tests.historian.stored import read_since

DAY = 86_400 * 10**9
NOW = 1_800_000_000_000_000_000


def retention_settings(path: Path, **kw: float | None) -> HistorianSettings:
    kw.setdefault("max_age_days", None)
    kw.setdefault("max_size_mb", None)
    kw.setdefault("check_interval_s", 3600)
    return make_settings(path, retention=RetentionConfig(**kw))


async def test_age_retention_deletes_old_samples_of_every_series(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    async with Historian(retention_settings(tmp_path / "h.sqlite", max_age_days=1), registry) as h:
        for p in ("a/s/p", "b/s/q"):
            await h.register_series(p, "xs:double", None)
        await h.append([sample("a/s/p", float(i), NOW - 3 * DAY + i) for i in range(10)])
        await h.append([sample("b/s/q", float(i), NOW - 2 * DAY + i) for i in range(3)])
        await h.append([sample("a/s/p", 1.0, NOW - DAY + 1), sample("b/s/q", 2.0, NOW)])
        await h.flush()
        res = await h.enforce_retention(now_ns=NOW)
        assert (res.deleted_age, res.kept_age, res.deleted_size) == (13, 0, 0)
        assert [r.value for r in await h.query("a", "s", "p")] == [1.0]
        assert [r.value for r in await h.query("b", "s", "q")] == [2.0]
        assert (await h.enforce_retention(now_ns=NOW)).deleted == 0
    assert registry.get_sample_value("gateway_historian_retention_deleted_rows_total", {"reason": "age"}) == 13


async def test_age_retention_never_deletes_past_the_smallest_cursor(tmp_path: Path) -> None:
    async with Historian(retention_settings(tmp_path / "h.sqlite", max_age_days=1)) as h:
        await h.register_series("a/s/p", "xs:int", None)
        await h.append([sample("a/s/p", i, NOW - 5 * DAY + i) for i in range(20)])
        await h.append([sample("a/s/p", 100, NOW)])
        await h.flush()
        seqs = [r.seq for r in await read_since(h, 0, 100)]
        await h.set_cursor("influx", seqs[14])
        await h.set_cursor("mqtt", seqs[9])  # the smallest cursor rules
        res = await h.enforce_retention(now_ns=NOW)
        assert (res.deleted_age, res.kept_age, res.min_cursor) == (10, 10, ("mqtt", seqs[9]))
        assert [r.seq for r in await read_since(h, 0, 100)] == seqs[10:]

        await h.delete_cursor("mqtt")
        res = await h.enforce_retention(now_ns=NOW)
        assert (res.deleted_age, res.kept_age) == (5, 5)
        assert [r.seq for r in await read_since(h, 0, 100)] == seqs[15:]


async def test_newest_row_is_kept_so_seq_is_never_reused(tmp_path: Path) -> None:
    async with Historian(retention_settings(tmp_path / "h.sqlite", max_age_days=1)) as h:
        await h.register_series("a/s/p", "xs:int", None)
        await h.append([sample("a/s/p", i, NOW - 5 * DAY + i) for i in range(5)])
        await h.flush()
        last_seq = (await read_since(h, 0, 10))[-1].seq
        await h.set_cursor("influx", last_seq)  # the forwarder has sent everything
        res = await h.enforce_retention(now_ns=NOW)
        assert res.deleted_age == 4
        await h.append([sample("a/s/p", 99, NOW)])
        await h.flush()
        new = await read_since(h, last_seq, 10)
        assert [(r.value, r.seq > last_seq) for r in new] == [(99, True)]


async def _fill(h: Historian, n: int) -> list[int]:
    await h.register_series("a/s/p", "xs:string", None)
    for start in range(0, n, 5000):
        await h.append([sample("a/s/p", f"payload-{i:08d}" * 4, NOW + i) for i in range(start, min(n, start + 5000))])
    await h.flush()
    return [r.seq for r in await read_since(h, 0, n)]


async def test_size_retention_deletes_oldest_and_gives_space_back(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    async with Historian(retention_settings(path, max_size_mb=1)) as h:
        seqs = await _fill(h, 40_000)
        before = await h.stats()
        assert before.used_bytes > 4 * 1024 * 1024
        res = await h.enforce_retention(now_ns=NOW)
        after = await h.stats()
        assert after.used_bytes <= 1024 * 1024
        assert res.deleted_size > 0 and res.deleted_size + after.rows == len(seqs)
        assert not res.over_size and res.vacuumed_pages > 0
        # what is left is the newest, contiguous tail
        assert [r.seq for r in await read_since(h, 0, len(seqs))] == seqs[res.deleted_size:]
        assert after.file_bytes < before.file_bytes
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


async def test_size_retention_stops_at_the_smallest_cursor(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    async with Historian(retention_settings(tmp_path / "h.sqlite", max_size_mb=1), registry) as h:
        seqs = await _fill(h, 40_000)
        await h.set_cursor("influx", seqs[999])
        res = await h.enforce_retention(now_ns=NOW)
        assert res.deleted_size == 1000
        assert res.over_size and res.kept_size > 0
        assert [r.seq for r in await read_since(h, 0, len(seqs))] == seqs[1000:]
    assert registry.get_sample_value("gateway_historian_retention_deleted_rows_total", {"reason": "size"}) == 1000


async def test_background_retention_runs_while_open(tmp_path: Path) -> None:
    settings = retention_settings(tmp_path / "h.sqlite", max_age_days=1, check_interval_s=0.05)
    async with Historian(settings) as h:
        await h.register_series("a/s/p", "xs:int", None)
        now = now_ns()
        await h.append([sample("a/s/p", i, now - 3 * DAY + i) for i in range(10)] + [sample("a/s/p", 10, now)])
        await h.flush()
        await poll(lambda: _equals(h.count(), 1), what="background retention to delete old samples")


async def _equals(aw: Awaitable[int], expected: int) -> bool:
    return (await aw) == expected
