"""Delivery (order progress, expected completion) and the `aas-gateway kpi` report from the historian."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.sample import ns_to_iso
from gateway.cli import main
from gateway.kpi.producer import BAD_NO_DATA
from tests.kpi.harness import GOOD, PRODUCED, SCRAP, STATE, Harness, T, config
from tests.kpi.test_golden import baseline


async def _latest(h: Harness, path: str) -> object:
    await h.historian.flush()
    row = await h.historian.latest(h.kpi.kpi_point(path))
    return None if row is None else row.value


async def test_order_progress_and_expected_completion(tmp_path: Path) -> None:
    h = await Harness(config(tmp_path), T(5, 45)).open()
    try:
        await baseline(h)
        await h.run_until(T(6))
        await h.write("Order.OrderId", "ORD-1")
        await h.write("Order.PlannedQuantity", 1000.0)
        for hour in (7, 8, 9, 10):  # 100 good parts an hour
            await h.sample(PRODUCED, 1000 + 100 * (hour - 6), T(hour))
            await h.sample(GOOD, 990 + 100 * (hour - 6), T(hour))
        await h.step()  # at 10:00
        assert await _latest(h, "Order.GoodQuantity") == 400
        assert await _latest(h, "Order.Progress") == pytest.approx(0.4)
        # 600 to go at 400 per 4 h: 6 h more
        assert await _latest(h, "Order.ExpectedCompletion") == ns_to_iso(T(16))
        assert await _latest(h, "Order.ExecutionTime") == 4 * 3600
        pvm_aoet = await h.historian.latest(h.kpi.pvm_points["ActualOrderExecutionTime"].point_id)
        assert pvm_aoet is not None and pvm_aoet.value == "PT4H"
        # an operation mode the OPC 40001 vocabulary does not know is refused, nothing is stored
        with pytest.raises(Exception, match="BadOutOfRange"):
            await h.write("OperatorInputs.OperationMode", "Coffee")
        assert await _latest(h, "OperatorInputs.OperationMode") is None
    finally:
        await h.close()


async def _shift_with_two_orders(tmp_path: Path) -> dict[str, Any]:
    """Early shift: a 30 min failure, ORD-1 (planned 500) until 12:01, then ORD-2; what was published."""
    h = await Harness(config(tmp_path), T(5, 45)).open()
    try:
        await baseline(h)
        await h.run_until(T(6))
        await h.write("Order.OrderId", "ORD-1")
        await h.write("Order.PlannedQuantity", 500.0)
        await h.sample(STATE, "Alarm", T(8))
        await h.sample(STATE, "Running", T(8, 30))
        await h.sample(PRODUCED, 1500, T(12))
        await h.sample(GOOD, 1480, T(12))
        await h.sample(SCRAP, 30, T(12))
        await h.run_until(T(12, 1))
        await h.write("Order.OrderId", "ORD-2")
        await h.sample(PRODUCED, 1700, T(13, 30))
        await h.sample(GOOD, 1680, T(13, 30))
        await h.run_until(T(14, 1))
        published = await h.closed("LastShift", T(6))
        assert published["OEE"] is not None
        # 05:00-06:00 had no planned time: its OEE is undefined, published as BadNoData, not as 0
        unplanned_hour = await h.historian.query("M1", "ProductionKPIs", "LastHour.OEE", start_ns=T(5),
                                                 end_ns=T(5) + 1)
        assert [(r.value, r.status) for r in unplanned_hour] == [(None, BAD_NO_DATA)]
        return published
    finally:
        await h.close()


def test_kpi_cli_reports_what_was_published(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    published = asyncio.run(_shift_with_two_orders(tmp_path))
    cfg = config(tmp_path)
    file = tmp_path / "gw.yaml"
    data = cfg.model_dump(mode="json", exclude_none=True)
    file.write_text(yaml.safe_dump(data))
    window = ["--from", "2026-12-07T06:00+09:00", "--to", "2026-12-07T14:01+09:00"]

    assert main(["kpi", "-c", str(file), *window, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["2026-12-07 Early"]
    for key in ("OEE", "Availability", "Effectiveness", "QualityRatio", "ActualUnitDownTime", "MTTR"):
        assert rows[0][key] == published[key], key  # the report is the published shift
    assert rows[0]["ActualUnitDownTime"] == 1800 and rows[0]["DownPeriods"] == 1

    assert main(["kpi", "-c", str(file), *window, "--period", "hour", "--format", "csv"]) == 0
    hours = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["name"] for r in hours] == [f"2026-12-07T{x:02d}" for x in range(6, 14)]
    assert float(hours[2]["Availability"]) == pytest.approx(0.5)  # 08:00-09:00: down half of it

    assert main(["kpi", "-c", str(file), *window, "--period", "order", "--format", "json"]) == 0
    orders = json.loads(capsys.readouterr().out)
    assert [(o["name"], o["GoodQuantity"], o["PlannedQuantity"]) for o in orders] == [
        ("ORD-1", 490.0, 500.0), ("ORD-2", 200.0, 500.0)]

    assert main(["kpi", "-c", str(file), *window]) == 0
    table = capsys.readouterr().out
    assert "2026-12-07 Early" in table and "OEE" in table.splitlines()[0]

    with pytest.raises(SystemExit) as e:  # a bad date: argparse's usage error, exit code 2
        main(["kpi", "-c", str(file), "--from", "yesterday"])
    assert e.value.code == 2 and "not an ISO date" in capsys.readouterr().err
