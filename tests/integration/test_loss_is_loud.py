"""Acceptance: while the historian refuses samples, every place an operator looks tells the truth.

A running gateway (real simulator, real uvicorn, real SQLite) whose historian file carries a trigger
that refuses the good samples of one point, the way a site rule or a value SQLite cannot hold would.
/health/ready, Prometheus, the GatewayStatus submodel and the log must all say so, with numbers that
match the file, and every refused sample must be in the dead-letter table: counted against an
independent witness, a sink beside the historian that records what the pipeline handed over.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aas_models.ids import submodel_id
from connectors.sample import Sample
from gateway.api import operations
from gateway.api.ids import encode_id
from gateway.app import Gateway
from gateway.historian import schema
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on simulators; waits out a refusal window

REFUSED = "CNC01/OperationalData/Spindle.Speed"
TRIGGER = (
    "CREATE TRIGGER site_rule BEFORE INSERT ON samples "
    "WHEN NEW.status = 0 AND NEW.series IN (SELECT id FROM series WHERE path = 'Spindle.Speed') "
    "BEGIN SELECT RAISE(ABORT, 'refused by the site rule'); END"
)


class Witness:
    """A pipeline sink that records what the historian was given."""

    name = "witness"

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    async def put(self, samples: Sequence[Sample]) -> None:
        self.samples.extend(samples)


def _metrics(text: str) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def _db(path: Path, sql: str, *params: Any) -> list[Any]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "gateway.historian.writer" and "refused to store samples" in r.getMessage()]


async def test_refused_samples_are_visible_everywhere_and_all_dead_lettered(
        machines: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    # short, so that the end of the test sees it clear; long enough that a loaded box's event loop, starved for a
    # few seconds, does not see it clear before the test has looked
    monkeypatch.setattr(operations, "REFUSAL_WINDOW_S", 10.0)
    cnc = await machines(CncMachine, name="CNC01", seed=4)
    points = {"Spindle.Speed": "xs:double", "Coolant.Temperature": "xs:double"}
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, points), api=True)
    db = cfg.historian.path
    conn = schema.connect(db, "full", 1000)  # the file exists before the gateway, with the site's trigger
    schema.initialise(conn)
    conn.execute(TRIGGER)
    conn.close()
    status_sm = encode_id(submodel_id("urn:test:aas:CNC01", "GatewayStatus"))
    witness = Witness()
    gw = Gateway(cfg)
    gw.pipeline.add_consumer(witness)  # before the sources start: it sees every sample the historian sees
    async with gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None
        root = gw.api.base_url

        refused = lambda: [s for s in witness.samples if s.point == REFUSED and s.status == 0]  # noqa: E731
        await wait_for(lambda: len(refused()) >= 20, timeout=30, message="20 refused samples offered")

        # readiness: not ready, and the body says why (polled: a refusal keeps it not ready for the window)
        async def not_ready() -> httpx.Response | None:
            r = await http.get(f"{root}/health/ready")
            return r if r.status_code == 503 else None
        r = await wait_for(not_ready, message="not ready while samples are refused")
        body = r.json()
        assert body["status"] == "not-ready" and body["historian"]["healthy"] is True
        assert len(body["reasons"]) == 1 and "refused" in body["reasons"][0] and REFUSED in body["reasons"][0]
        assert "refused by the site rule" in body["reasons"][0]

        # hold the machine still, so that every counter can be compared with the file
        cnc.pause()
        await wait_for(lambda: gw.historian.pending_rows == 0, message="queue drained")
        seen = [-1]

        def settled() -> bool:  # the same count at two polls 0.5 s apart: the last notification is in
            n, seen[0] = seen[0], len(witness.samples)
            return n == seen[0]
        await wait_for(settled, interval=0.5, message="nothing more arriving")
        await gw.historian.flush()
        committed = _db(db, "SELECT count(*) FROM samples")[0][0]
        dead = _db(db, "SELECT point, ts, value, status, reason FROM dead_letters WHERE forwarder = 'historian' "
                   "ORDER BY id")
        # every refused sample is in the dead-letter table, value and time, in order
        offered = refused()
        assert [(d[0], d[1], d[2]) for d in dead] == [(s.point, s.ts, s.value) for s in offered]
        assert all("refused by the site rule" in d[4] for d in dead)
        assert committed + len(dead) == len(witness.samples), "every sample handed over is a row or a dead letter"

        # Prometheus counts commits, not receipts
        m = _metrics((await http.get(f"{root}/metrics")).text)
        assert m["gateway_historian_rows_written_total"] == committed
        assert m["gateway_historian_rejected_rows_total"] == len(dead)
        assert m["gateway_historian_lost_rows_total"] == 0

        # the status submodel (refreshed once a second) shows the same numbers for the machine (the gateway's
        # own shell stores its operation ledger beside it)
        cnc_committed = _db(db, "SELECT count(*) FROM samples s JOIN series r ON r.id = s.series "
                                "WHERE r.asset = 'CNC01'")[0][0]

        async def status() -> dict[str, Any] | None:
            v = (await http.get(f"{gw.api_url}/submodels/{status_sm}/$value")).json()
            return v if v["SamplesCommitted"] == cnc_committed and v["SamplesDeadLettered"] == len(dead) else None
        shown = await wait_for(status, message="status submodel counts")
        assert shown["SamplesLost"] == 0 and REFUSED in shown["LastRefusal"]
        assert "refused by the site rule" in shown["LastRefusal"]

        # the log: one line for the cause so far, however many samples it refused
        assert len(dead) >= 20 and len(_refusal_lines(caplog)) == 1

        # the site rule goes: once the window has passed without refusals, ready again
        _db(db, "DROP TRIGGER site_rule")
        cnc.resume()

        async def ready_again() -> bool:
            return (await http.get(f"{root}/health/ready")).status_code == 200
        await wait_for(ready_again, timeout=30, message="ready once no sample was refused for the window")
        total_dead = _db(db, "SELECT count(*) FROM dead_letters")[0][0]

    # closing says the rest of the count: the lines add up to every dead letter
    lines = _refusal_lines(caplog)
    counts = [int(re.search(r"\[(\d+) occurrence", line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert len(lines) == 2 and sum(counts) == total_dead, lines
    closed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("historian closed")]
    assert closed and f"{total_dead} refused and filed in dead_letters" in closed[-1]


async def test_ready_is_503_while_the_historian_cannot_write(machines: Any, tmp_path: Path) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=4)
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, {"Coolant.Temperature": "xs:double"}), api=True)
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None
        ready = f"{gw.api.base_url}/health/ready"
        await wait_for(lambda: gw.historian.committed_this_session > 0, message="first commit")
        assert (await http.get(ready)).status_code == 200
        blocker = sqlite3.connect(cfg.historian.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file: every write attempt fails
        try:
            async def refused() -> dict[str, Any] | None:
                r = await http.get(ready)
                return r.json() if r.status_code == 503 else None
            body = await wait_for(refused, timeout=30, message="503 while writes fail")
            assert body["historian"]["healthy"] is False and "cannot write" in body["reasons"][0]
            assert "locked" in body["reasons"][0]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        async def recovered() -> bool:
            return (await http.get(ready)).status_code == 200
        await wait_for(recovered, timeout=30, message="ready once the writes succeed again")
        assert gw.historian.counts().dead_lettered == 0 and gw.historian.counts().lost == 0
