"""What SQLite refuses is dead-lettered with its reason, counted and logged once per cause: never dropped."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gateway.historian import Historian
from tests.historian.conftest import make_settings, sample

T0 = 1_714_564_800 * 10**9
P = "M1/OperationalData/Text"
Q = "M2/OperationalData/Temp"


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.historian.writer" and "refused to store" in r.getMessage()]


def _count(r: logging.LogRecord) -> int:
    m = re.search(r"\[(\d+) occurrence", r.getMessage())
    assert m, r.getMessage()
    return int(m.group(1))


async def test_value_sqlite_cannot_store_is_dead_lettered_with_its_exact_text(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.historian")
    registry = CollectorRegistry()
    async with Historian(make_settings(tmp_path / "h.sqlite"), registry) as h:
        await h.register_series(P, "xs:string", None)
        await h.register_series(Q, "xs:double", None)
        bad = "bad\ud800text"  # a lone surrogate: what asyncua makes of invalid UTF-8 from a server
        for batch in range(5):  # five commits, each with refused rows
            await h.append([sample(P, "ok", T0 + batch * 100), sample(P, bad, T0 + batch * 100 + 1, status=0x40000000),
                            sample(Q, 1.5, T0 + batch * 100 + 2)])
            await h.flush()
        assert [r.value for r in await h.query("M1", "OperationalData", "Text")] == ["ok"] * 5
        dead = await h.dead_letters("historian")
        assert len(dead) == 5
        forwarder, seq, point, ts, value, status, reason = dead[0]
        assert (forwarder, seq, point, ts, status) == ("historian", 0, P, T0 + 1, 0x40000000)
        assert json.loads(value) == bad, "the refused text is kept exactly (as escaped JSON)"
        assert "UnicodeEncodeError" in reason and "surrogates not allowed" in reason
        assert h.counts().committed == 10 and h.counts().dead_lettered == 5 and h.counts().lost == 0
        assert h.counts("M1").committed == 5 and h.counts("M1").dead_lettered == 5
        assert h.counts("M2").committed == 5 and h.counts("M2").dead_lettered == 0
        assert h.committed_this_session == 10
        recent = h.refusals(60)
        assert recent.count == 5 and recent.last_point == P and "UnicodeEncodeError" in (recent.last_reason or "")
        assert h.healthy, "a refused row is not a failing database"
        assert len(_refusal_lines(caplog)) == 1, "one line for the cause, not one per sample"
    assert registry.get_sample_value("gateway_historian_rows_written_total") == 10
    assert registry.get_sample_value("gateway_historian_rejected_rows_total") == 5
    assert registry.get_sample_value("gateway_historian_lost_rows_total") == 0
    lines = _refusal_lines(caplog)
    assert len(lines) == 2 and sum(_count(r) for r in lines) == 5, "closing says the rest of the count"
    closed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("historian closed")]
    assert closed == ["historian closed: 10 samples committed in this session; 5 refused and filed in dead_letters "
                      "(forwarder 'historian'), 0 lost"]


async def test_rows_a_trigger_refuses_are_dead_lettered_and_the_rest_committed(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    async with Historian(make_settings(path)) as h:
        await h.register_series(Q, "xs:double", None)
    con = sqlite3.connect(path)
    con.execute("CREATE TRIGGER refuse_negative BEFORE INSERT ON samples WHEN NEW.value < 0 "
                "BEGIN SELECT RAISE(ABORT, 'negative values refused by a site rule'); END")
    con.close()
    async with Historian(make_settings(path)) as h:
        values = [float(v) for v in range(-50, 50)]
        await h.append([sample(Q, v, T0 + i) for i, v in enumerate(values)])
        await h.flush()
        assert [r.value for r in await h.query("M2", "OperationalData", "Temp", limit=1000)] == values[50:]
        dead = await h.dead_letters("historian")
        assert [d[4] for d in dead] == values[:50], "the original values, in order"
        assert all("negative values refused by a site rule" in d[6] for d in dead)
        assert h.counts() == h.counts("M2") and (h.counts().committed, h.counts().dead_lettered) == (50, 50)


async def test_a_sample_that_cannot_even_be_dead_lettered_is_counted_as_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "h.sqlite"
    registry = CollectorRegistry()
    async with Historian(make_settings(path)) as h:
        await h.register_series(Q, "xs:double", None)
    con = sqlite3.connect(path)
    con.execute("CREATE TRIGGER refuse_13 BEFORE INSERT ON samples WHEN NEW.value = 13 "
                "BEGIN SELECT RAISE(ABORT, 'thirteen'); END")
    con.execute("CREATE TRIGGER refuse_all BEFORE INSERT ON dead_letters BEGIN SELECT RAISE(ABORT, 'no'); END")
    con.close()
    async with Historian(make_settings(path), registry) as h:
        await h.append([sample(Q, 13.0, T0), sample(Q, 14.0, T0 + 1)])
        await h.flush()
        assert h.counts().committed == 1 and h.counts().lost == 1 and h.counts("M2").lost == 1
    assert registry.get_sample_value("gateway_historian_lost_rows_total") == 1
    assert any(r.levelno == logging.CRITICAL and "it is lost" in r.getMessage() for r in caplog.records)
    assert not _refusal_lines(caplog), "a lost sample is not reported as dead-lettered"
