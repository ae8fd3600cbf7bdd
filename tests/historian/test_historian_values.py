"""Values SQLite cannot hold natively round-trip exactly; timestamps it cannot hold never cost the value."""

from __future__ import annotations

import math
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.sample import (
    FLAG_RECEIVED_TS_INVALID,
    FLAG_SERVER_TS_INVALID,
    FLAG_SOURCE_TS_INVALID,
    Sample,
    now_ns,
)
from gateway.historian import Historian, schema
from tests.historian.conftest import make_settings
from tests.historian.stored import read_since

T0 = 1_714_564_800 * 10**9
UINT64_MAX = 2**64 - 1
FORTY_DIGITS = 1234567890123456789012345678901234567890


@pytest.mark.parametrize("value_type, values", [
    ("xs:unsignedLong", [0, 2**63 - 1, 2**63, UINT64_MAX]),
    ("xs:integer", [FORTY_DIGITS, -FORTY_DIGITS, -(2**63), 7]),
    ("xs:long", [-(2**63), 2**63 - 1]),
    ("xs:decimal", [Decimal("0.1"), Decimal("21.25"), Decimal("3.14159265358979323846264338327950288"),
                    Decimal("1E+40"), Decimal(-5)]),
    ("xs:double", [1.5, math.inf, -math.inf, 2.0**-1074]),
    ("xs:boolean", [True, False]),
])
async def test_values_round_trip_exactly(historian: Historian, value_type: str, values: list[Any]) -> None:
    point = "M/Op/V"
    await historian.register_series(point, value_type, None)
    await historian.append([Sample(point, v, T0 + i, None, T0 + i) for i, v in enumerate(values)])
    await historian.flush()
    rows = await historian.query("M", "Op", "V")
    assert [r.value for r in rows] == values
    for r, v in zip(rows, values, strict=True):
        if isinstance(v, int):
            assert type(r.value) is type(v), "an integer of any size comes back an integer (bool a bool)"
        elif isinstance(v, Decimal) and v != v.to_integral_value() and Decimal(float(v)) != v:
            assert isinstance(r.value, Decimal), "digits no float holds come back as a Decimal"
    forwarded = await read_since(historian, 0, 100)
    assert [s.value for s in forwarded] == values
    assert [r.sample.value for r in await historian.read_records(0, 100)] == values


async def test_nan_is_kept_not_turned_into_null(historian: Historian) -> None:
    await historian.register_series("M/Op/V", "xs:double", None)
    await historian.append([Sample("M/Op/V", math.nan, T0, None, T0), Sample("M/Op/V", 2.0, T0 + 1, None, T0 + 1)])
    await historian.flush()
    rows = await historian.query("M", "Op", "V")
    assert math.isnan(rows[0].value) and rows[1].value == 2.0
    (bucket,) = await historian.aggregate("M", "Op", "V", T0, T0 + 10, 10)
    assert bucket.count == 1 and bucket.avg == 2.0, "a NaN does not poison aggregates"


async def test_timestamps_sqlite_cannot_hold_are_dropped_and_flagged_never_the_value(historian: Historian) -> None:
    await historian.register_series("M/Op/V", "xs:double", None)
    before = now_ns()
    samples = [
        Sample("M/Op/V", 1.0, -(2**70), T0, T0 + 5),  # e.g. 1601-01-01 in ns from a connector without the rule
        Sample("M/Op/V", 2.0, 2**64, 2**63, T0 + 6),
        Sample("M/Op/V", 3.0, T0 + 3, "yesterday", T0 + 7),  # type: ignore[arg-type]
        Sample("M/Op/V", 4.0, None, None, 2**80),
        Sample("M/Op/V", 5.0, T0 + 9, None, T0 + 9, 0, FLAG_SERVER_TS_INVALID),  # flagged by its connector
    ]
    await historian.append(samples)
    await historian.flush()
    rows = await historian.query("M", "Op", "V", limit=10)
    by_value = {r.value: r for r in rows}
    assert sorted(by_value) == [1.0, 2.0, 3.0, 4.0, 5.0], "every value is stored"
    assert (by_value[1.0].source_ts, by_value[1.0].server_ts, by_value[1.0].ts) == (None, T0, T0)
    assert by_value[1.0].flags == FLAG_SOURCE_TS_INVALID
    assert (by_value[2.0].source_ts, by_value[2.0].server_ts, by_value[2.0].ts) == (None, None, T0 + 6)
    assert by_value[2.0].flags == FLAG_SOURCE_TS_INVALID | FLAG_SERVER_TS_INVALID
    assert by_value[3.0].server_ts is None and by_value[3.0].flags == FLAG_SERVER_TS_INVALID
    assert by_value[4.0].flags == FLAG_RECEIVED_TS_INVALID and by_value[4.0].recv_ts >= before
    assert by_value[5.0].flags == FLAG_SERVER_TS_INVALID
    assert [s.flags for s in await read_since(historian, 0, 10)] == [r.flags for r in sorted(rows, key=lambda r: r.seq)]
    assert historian.counts().committed == 5 and historian.counts().dead_lettered == 0


# --- schema migration: files written by the v1 and v2 schema code open, keep their rows, gain flags ----------------


def _old_file(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A historian file as the schema code of `version` made it (the same migrations, stopped there)."""
    with monkeypatch.context() as m:
        m.setattr(schema, "SCHEMA_VERSION", version)
        conn = schema.connect(path, "full", 1000)
        schema.initialise(conn)
        conn.execute("INSERT INTO series (asset, submodel, path, value_type) VALUES ('M', 'Op', 'V', 'xs:double')")
        conn.execute("INSERT INTO samples (series, ts, value, status, source_ts, server_ts, recv_ts) "
                     "VALUES (1, ?, 1.5, 0, ?, NULL, ?)", (T0, T0, T0 + 1))
        if version >= 2:
            conn.execute("INSERT INTO dead_letters (forwarder, seq, point, ts, value, status, reason, created_ns) "
                         "VALUES ('tsdb', 1, 'M/Op/V', ?, 1.5, 0, 'HTTP 400', ?)", (T0, T0))
        conn.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == version
    assert "flags" not in {r[1] for r in con.execute("PRAGMA table_info(samples)")}
    con.close()


@pytest.mark.parametrize("version", [1, 2])
async def test_old_files_are_migrated_to_v3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    path = tmp_path / f"v{version}.sqlite"
    _old_file(path, version, monkeypatch)
    async with Historian(make_settings(path)) as h:
        old = await h.query("M", "Op", "V")
        assert [(r.value, r.source_ts, r.flags) for r in old] == [(1.5, T0, 0)]
        await h.append([Sample("M/Op/V", 2.5, None, T0 + 2, T0 + 3, 0, FLAG_SOURCE_TS_INVALID),
                        Sample("M/Op/V", "\ud800", T0 + 4, None, T0 + 4)])
        await h.flush()
        rows = await h.query("M", "Op", "V")
        assert [(r.value, r.flags) for r in rows] == [(1.5, 0), (2.5, FLAG_SOURCE_TS_INVALID)]
        dead = await h.dead_letters()
        assert [d[0] for d in dead] == (["tsdb"] if version >= 2 else []) + ["historian"]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 3
    con.close()
