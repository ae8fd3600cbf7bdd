"""What forwarders need from the historian: dead letters, commit wake-ups, the disk cap, migration."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.config import RetentionConfig
from gateway.historian import Historian
from gateway.historian.schema import _CREATE_V1
from tests.historian.conftest import make_settings, sample
from tests.historian.stored import read_since

P = "M/OperationalData/T"


async def test_dead_letters_are_filed_with_reason(historian: Historian) -> None:
    await historian.register_series(P, "xs:double", None)
    await historian.append([sample(P, float(i), 10**18 + i) for i in range(3)])
    await historian.flush()
    stored = await historian.read_records(0, 10)
    assert [r.sample.value for r in stored] == [0.0, 1.0, 2.0]
    await historian.add_dead_letters("influx", [(stored[1], "400: field type conflict")])
    [row] = await historian.dead_letters("influx")
    assert row[:2] == ("influx", stored[1].seq) and row[2] == P and row[4] == 1.0
    assert row[6] == "400: field type conflict"
    assert await historian.dead_letters("mqtt") == []


async def test_max_seq_and_commit_wakeup(historian: Historian) -> None:
    await historian.register_series(P, "xs:double", None)
    assert await historian.max_seq() == 0
    waiter = asyncio.create_task(historian.wait_for_commit(30))
    await asyncio.sleep(0)
    await historian.append([sample(P, 1.0, 10**18)])
    await asyncio.wait_for(waiter, 10)  # woken by the commit, long before its 30 s timeout
    assert await historian.max_seq() == (await read_since(historian, 0, 1))[0].seq


async def test_disk_cap_drops_unforwarded_oldest_and_counts(tmp_path: Path) -> None:
    cfg = RetentionConfig(max_age_days=None, max_size_mb=0.05, max_disk_mb=0.2, check_interval_s=3600)
    async with Historian(make_settings(tmp_path / "h.sqlite", retention=cfg)) as h:
        await h.register_series(P, "xs:string", None)
        await h.set_cursor("influx", 0)  # a forwarder that never acknowledges anything
        await h.append([sample(P, "x" * 200, 10**18 + i) for i in range(5000)])
        await h.flush()
        res = await h.enforce_retention()
        assert res.deleted_size == 0, "the soft size limit never touches unforwarded rows"
        assert res.dropped_unforwarded > 0
        remaining = await read_since(h, 0, 10**6)
        assert remaining[-1].value == "x" * 200 and len(remaining) == 5000 - res.dropped_unforwarded
        assert remaining[0].seq == res.dropped_unforwarded + 1, "the oldest went first"


async def test_v1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(_CREATE_V1 + "; PRAGMA user_version = 1;")
    con.execute("INSERT INTO series (asset, submodel, path, value_type) VALUES ('M', 'OperationalData', 'T', 'xs:int')")
    con.execute("INSERT INTO samples (series, ts, value, status, recv_ts) VALUES (1, 5, 7, 0, 6)")
    con.commit()
    con.close()
    async with Historian(make_settings(path)) as h:
        assert [r.value for r in await read_since(h, 0, 10)] == [7]
        await h.add_dead_letters("x", [((await h.read_records(0, 1))[0], "test")])
        assert len(await h.dead_letters()) == 1
