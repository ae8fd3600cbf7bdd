"""The operation-rate ledger: what it records from a real gateway and what the report makes of it.

Timelines are checked exactly on synthetic records (pure logic); the recording is checked against a
real gateway and a real simulator: a machine outage of known length, a gateway killed with SIGKILL,
days that ended while the gateway was down published into the OperationRate submodel on the next start.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.app import Gateway
from gateway.ops.chainlog import ChainedLog, LogSettings
from gateway.ops.ledger import NS, LedgerPaths
from gateway.ops.report import (
    build_report,
    build_timeline,
    downs,
    load_records,
    summarise,
    to_csv,
    to_html,
)
from gateway.ops.verify import verify_log
from simulators.energy import EnergyMeter
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config
from tests.ops.procs import free_port, opcua_asset, run_cli, start_gateway, start_simulators, stop, write_config


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).isoformat().replace("+00:00", "Z")


def at(t0: int, s: float) -> str:
    return iso(t0 + int(s * NS))


# --- the report, from synthetic records ---------------------------------------------------------------


def synthetic(t0: int) -> list[dict[str, Any]]:
    return [
        {"kind": "start", "run": "a", "at": at(t0, 0), "ts": at(t0, 0), "sources": {"M1": {}}, "forwarders": ["f"]},
        {"kind": "state", "run": "a", "entity": "forwarder:f", "state": "forwarding", "at": at(t0, 1)},
        {"kind": "state", "run": "a", "entity": "source:M1", "state": "connected", "at": at(t0, 2)},
        {"kind": "state", "run": "a", "entity": "source:M1", "state": "disconnected", "at": at(t0, 100)},
        {"kind": "state", "run": "a", "entity": "source:M1", "state": "connected", "at": at(t0, 160.5)},
        {"kind": "counts", "run": "a", "from": at(t0, 0), "to": at(t0, 3600), "ts": at(t0, 3600),
         "sources": {"M1": {"expected": 3600.0, "received": 3540.0, "samples": 999}}},
        {"kind": "crash", "run": "a", "last_alive": at(t0, 7200), "ts": at(t0, 7500)},
        {"kind": "start", "run": "b", "at": at(t0, 7500), "ts": at(t0, 7500), "sources": {"M1": {}},
         "forwarders": ["f"]},
        {"kind": "state", "run": "b", "entity": "source:M1", "state": "connected", "at": at(t0, 7505)},
        {"kind": "stop", "run": "b", "at": at(t0, 9000), "ts": at(t0, 9000)},
    ]


def test_timeline_availability_outages_and_completeness() -> None:
    tz = ZoneInfo("Asia/Seoul")
    t0 = int(datetime(2026, 3, 1, 23, 0, tzinfo=tz).timestamp()) * NS  # one hour before a local midnight
    tl = build_timeline(synthetic(t0), now_ns=t0 + 10000 * NS, running=False)
    end = t0 + 10000 * NS
    gw = summarise(tl, "gateway", "total", "t", t0, end)
    assert (gw.up_s, gw.down_s, gw.outages) == (8700.0, 1300.0, 2)  # the crash (7200-7500 s) and after the stop
    assert gw.availability == pytest.approx(0.87)
    assert downs(tl, "gateway", t0, end) == [(t0 + 7200 * NS, t0 + 7500 * NS), (t0 + 9000 * NS, end)]
    m1 = summarise(tl, "source:M1", "total", "t", t0, end)
    # down: 0-2 s (connecting), the 60.5 s outage, the gateway's own downtime 7200-7505 and after the stop
    assert downs(tl, "source:M1", t0, end) == [(t0, t0 + 2 * NS), (t0 + 100 * NS, t0 + 160_500_000_000),
                                               (t0 + 7200 * NS, t0 + 7505 * NS), (t0 + 9000 * NS, end)]
    assert m1.longest_outage_s == 1000.0 and m1.up_s == pytest.approx(10000 - 2 - 60.5 - 305 - 1000)
    assert m1.completeness == pytest.approx(3540 / 3600) and m1.samples == 999
    fwd = summarise(tl, "forwarder:f", "total", "t", t0, end)
    assert fwd.up_s == 7199.0  # delivering from 1 s until the crash; run b never got to forwarding
    report = build_report(tl, t0, end, "Asia/Seoul")
    days = [r for r in report.rows if r.period == "day" and r.entity == "gateway"]
    assert [d.start for d in days] == ["2026-03-01", "2026-03-02"]
    assert days[0].monitored_s == 3600 and days[0].up_s == 3600  # 23:00 to midnight, local time
    first_hour = next(r for r in report.rows if r.period == "day" and r.entity == "source:M1")
    assert first_hour.expected == pytest.approx(3600.0)  # the whole counts record falls on the first day
    csv = to_csv(report)
    assert csv.splitlines()[0].startswith("period,label,start,end,entity,monitored_s")
    page = to_html(report)
    assert "<script" not in page and "http" not in page.split("</style>")[1].split("generated")[0]
    assert "source:M1" in page and "60.500 s" in page  # the machine outage, to the millisecond


# --- against a real gateway ---------------------------------------------------------------------------


def ledger_records(data: Path) -> list[dict[str, Any]]:
    return load_records(LedgerPaths.of(data).current)


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_a_machine_outage_is_reported_to_the_second(machines: Any, tmp_path: Path) -> None:
    meter = await machines(EnergyMeter, name="EM01", seed=1)
    cfg = gateway_config(tmp_path, asset("EM01", meter, {"Voltage.L1": "xs:double", "Power.Active": "xs:double"}))
    async with Gateway(cfg) as gw:
        await wait_for(lambda: any(r.get("state") == "connected" for r in ledger_records(tmp_path)),
                       message="connected, in the ledger")
        await asyncio.sleep(2.0)  # some connected time before the outage
        t_stop = time.time_ns()
        await meter.stop()
        await asyncio.sleep(3.0)
        await meter.start()
        t_back = time.time_ns()
        await wait_for(lambda: sum(r.get("state") == "connected" for r in ledger_records(tmp_path)) >= 2,
                       message="reconnected, in the ledger")
        assert gw.ops.ledger is not None
        await asyncio.sleep(1.0)
    now = time.time_ns()
    records = ledger_records(tmp_path)
    assert records[0]["kind"] == "start" and records[-1]["kind"] == "stop"
    tl = build_timeline(records, now, running=False)
    start = tl.first["gateway"]
    # the sources stop a few ms before the gateway writes its stop record: not an outage of the machine
    outages = [(a, b) for a, b in downs(tl, "source:EM01", start, tl.up["gateway"][-1][1]) if b - a > NS // 10
               or a == start]
    actual = (t_back - t_stop) / NS
    # the first "outage" is the connect at start-up; the second is the machine's
    assert len(outages) == 2, (outages, t_stop, t_back)
    a, b = outages[1]
    reported = (b - a) / NS
    assert t_stop - NS // 2 <= a <= t_stop + NS, "went down when the machine stopped"
    assert t_back <= b <= t_back + 2 * NS, "came back when the machine did (the reconnect probe runs every 0.5 s)"
    assert abs(reported - actual) < 2.0, (reported, actual)
    # completeness: the points were missing for the outage (and the start-up), valid otherwise
    counts = [r for r in records if r["kind"] == "counts"]
    exp = sum(c["sources"]["EM01"]["expected"] for c in counts)
    rec = sum(c["sources"]["EM01"]["received"] for c in counts)
    run_s = (tl.up["gateway"][-1][1] - start) / NS
    assert exp == pytest.approx(2 * 10 * run_s, rel=0.02)  # two points, 10 instants/s each (100 ms publishing)
    assert 1 - rec / exp == pytest.approx((reported + (outages[0][1] - outages[0][0]) / NS) / run_s, abs=0.08)
    assert verify_log("ledger", LedgerPaths.of(tmp_path).current, None).problems == []


@pytest.mark.slow
async def test_a_killed_gateway_shows_its_downtime_bounded_by_the_heartbeat(tmp_path: Path) -> None:
    sim, machines = await start_simulators("--machine", "energy:0:name=EM01")
    data = tmp_path / "data"
    doc = {"historian": {"path": str(data / "historian.sqlite")}, "api": {"port": free_port()},
           "ledger": {"heartbeat_s": 1.0},
           "assets": [opcua_asset("EM01", machines["EM01"], {"Voltage.L1": "xs:double"})]}
    cfg = write_config(tmp_path / "gw.yaml", doc)
    gw = None
    hb = LedgerPaths.of(data).heartbeat
    try:
        gw = await start_gateway(cfg)
        await wait_for(lambda: any(r.get("state") == "connected" for r in ledger_records(data)), timeout=60,
                       message="running")
        first_hb = json.loads(hb.read_text())["at_ns"]
        await wait_for(lambda: json.loads(hb.read_text())["at_ns"] > first_hb + 2 * NS, message="heartbeats")
        t_kill = time.time_ns()
        gw.send_signal(signal.SIGKILL)
        await gw.wait()
        await asyncio.sleep(3.0)
        t_restart = time.time_ns()
        gw = await start_gateway(cfg)
        await wait_for(lambda: sum(r["kind"] == "start" for r in ledger_records(data)) == 2, timeout=60,
                       message="the second run")
        assert await stop(gw) == 0
        gw = None
        records = ledger_records(data)
        [crash] = [r for r in records if r["kind"] == "crash"]
        tl = build_timeline(records, time.time_ns(), running=False)
        runs = tl.up["gateway"]
        assert len(runs) == 2
        down_from, down_to = runs[0][1], runs[1][0]
        assert t_kill - int(1.5 * NS) <= down_from <= t_kill, "down from the last heartbeat before the kill"
        assert down_to >= t_restart
        assert iso(down_from) == crash["last_alive"]
        code, out, err = await run_cli("report", "operation", "-c", str(cfg), "--format", "csv")
        assert code == 0, err
        total = [line.split(",") for line in out.splitlines() if line.startswith("total,") and ",gateway," in line]
        assert len(total) == 1 and int(total[0][9]) == 2  # outages: the kill and the time after the stop
    finally:
        await stop(gw)
        await stop(sim, sig=2)


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_days_that_ended_are_published_with_anchors_and_verified(machines: Any, tmp_path: Path) -> None:
    """A ledger that ends two days ago (the gateway was down since): the next start closes those days into the
    OperationRate submodel of the gateway's own shell, publishes the log anchors, and verify checks them."""
    meter = await machines(EnergyMeter, name="EM01", seed=1)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    d2, d1 = today - timedelta(days=2), today - timedelta(days=1)

    def ns(dt: datetime) -> int:
        return int(dt.timestamp()) * NS

    ledger = ChainedLog(LedgerPaths.of(tmp_path).current, LogSettings(max_file_days=10000))
    src = {"EM01": {"mode": "subscription", "points": 1}}
    for rec in (
        {"kind": "start", "run": "x", "at": iso(ns(d2) + 10 * 3600 * NS), "sources": src, "forwarders": []},
        {"kind": "state", "run": "x", "entity": "source:EM01", "state": "connected",
         "at": iso(ns(d2) + 10 * 3600 * NS)},
        {"kind": "counts", "run": "x", "from": iso(ns(d2) + 10 * 3600 * NS), "to": iso(ns(d2) + 22 * 3600 * NS),
         "sources": {"EM01": {"expected": 432000.0, "received": 410400.0, "samples": 5}}},
        {"kind": "stop", "run": "x", "at": iso(ns(d2) + 22 * 3600 * NS)},
        {"kind": "start", "run": "y", "at": iso(ns(d1) + 2 * 3600 * NS), "sources": src, "forwarders": []},
        {"kind": "counts", "run": "y", "from": iso(ns(d1) + 2 * 3600 * NS), "to": iso(ns(d1) + 5 * 3600 * NS),
         "sources": {"EM01": {"expected": 10.0, "received": 10.0, "samples": 1}},
         "ts": iso(ns(d1) + 5 * 3600 * NS)},  # run y's last sign of life: it was killed then
    ):
        ledger.append({"ts": rec.get("ts") or rec.get("at"), **rec})
    ledger.close()
    cfg = gateway_config(tmp_path, asset("EM01", meter, {"Voltage.L1": "xs:double"}), api=True)
    cfg_file = write_config(tmp_path / "gw.yaml", {"historian": {"path": str(cfg.historian.path)},
                                                   "assets": [{"id_short": "EM01", "id": "urn:test:aas:EM01",
                                                               "global_asset_id": "urn:x",
                                                               "source": {"endpoint": meter.endpoint,
                                                                          "security": "auto"},
                                                               "points": [{"node": "s=Voltage.L1", "path": "V",
                                                                           "type": "xs:double"}]}]})
    gw_short = "aas_edge_gateway"
    async with Gateway(cfg) as gw:
        hist = gw.historian

        async def daily() -> Any:
            await hist.flush()
            rows = await hist.query(gw_short, "OperationRate", "Daily.Gateway.Availability", limit=10)
            return rows if len(rows) >= 2 else None

        rows = await wait_for(daily, message="closed days published")
        assert [r.ts for r in rows] == [ns(d2), ns(d1)]  # timestamped at each day's start
        assert rows[0].value == pytest.approx(12 / 14)  # monitored from 10:00, up 10:00-22:00
        assert rows[1].value == pytest.approx(3 / 24)  # up 02:00-05:00, then killed
        conn = await hist.query(gw_short, "OperationRate", "Daily.Sources.EM01.Completeness", limit=10)
        assert conn[0].value == pytest.approx(0.95)
        anchors = await wait_for(lambda: hist.query(gw_short, "OperationRate", "Anchors.Ledger", limit=10),
                                 message="ledger anchor")
        assert anchors[0].value.split(":")[0].isdigit()
        # the gateway's own shell serves it
        async with httpx.AsyncClient(base_url=gw.api_url or "") as http:
            shells = (await http.get("/shells")).json()["result"]
            assert {s["idShort"] for s in shells} == {"EM01", gw_short}
            from gateway.api.ids import encode_id

            sm = encode_id("urn:aas-gateway:edge:submodels:OperationRate")
            value = (await http.get(f"/submodels/{sm}/$value")).json()
            assert value["OperationRate"]["Daily"]["Gateway"]["Availability"] == pytest.approx(3 / 24) \
                if "OperationRate" in value else value["Daily"]["Gateway"]["Availability"] == pytest.approx(3 / 24)
            hist_route = await http.get(f"/submodels/{sm}/submodel-elements/Daily.Gateway.Availability/history")
            assert hist_route.status_code == 200 and len(hist_route.json()["samples"]) == 2
    records = ledger_records(tmp_path)
    crash = next(r for r in records if r["kind"] == "crash")
    assert crash["run"] == "y" and crash["last_alive"] == iso(ns(d1) + 5 * 3600 * NS)
    code, out, err = await run_cli("audit", "-c", str(cfg_file), "verify")
    assert code == 0 and out.count("INTACT") == 2 and "anchor(s) from the historian match" in out, out + err
    # cut the ledger back before its anchored head: only the anchor can tell
    current = LedgerPaths.of(tmp_path).current
    anchored = int(anchors[0].value.split(":")[0])
    lines = current.read_text().splitlines(keepends=True)
    current.write_text("".join(line for line in lines if json.loads(line)["seq"] < anchored))
    code, out, err = await run_cli("audit", "-c", str(cfg_file), "verify")
    assert code == 1 and "PROBLEM" in out and f"names seq {anchored}, which is not in the log" in out, out + err
