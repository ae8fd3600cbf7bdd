"""The state timeline: categories from the KPI engine's own classifier, unknown where the machine or the
gateway was not heard, merged into segments. The historian here is a list of rows (pure logic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.historian import UnknownPointError
from gateway.kpi.asset import asset_kpi
from gateway.ui.timeline import kpi_timeline, point_timeline
from tests.ui.conftest import gateway_config

S = 10**9
T0 = 1_800_000_000 * S


class Rows:
    def __init__(self, series: dict[str, list[tuple[int, Any, int]]]) -> None:
        self.series = {k: [(i, ts, v, st, ts) for i, (ts, v, st) in enumerate(rows)] for k, rows in series.items()}

    async def raw_rows(self, pid: str, start_ns: int | None = None, end_ns: int | None = None, limit: int = 1000,
                       descending: bool = False) -> list[tuple[int, int, Any, int, int]]:
        if pid not in self.series:
            raise UnknownPointError(pid)
        rows = [r for r in self.series[pid]
                if (start_ns is None or r[1] >= start_ns) and (end_ns is None or r[1] < end_ns)]
        rows.sort(key=lambda r: r[1], reverse=descending)
        return rows[:limit]


async def test_kpi_timeline_uses_the_engines_categories(tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    imm = next(a for a in cfg.assets if a.id_short == "IMM01")
    kpi = asset_kpi(cfg, imm)
    state = kpi.inputs.state
    hist = Rows({state: [(T0 - 100 * S, "Running", 0), (T0 + 60 * S, "Idle", 0), (T0 + 120 * S, "Alarm", 0),
                         (T0 + 180 * S, None, 0x808A0000), (T0 + 240 * S, "Setup", 0), (T0 + 300 * S, "Setup", 0)]})
    segments, truncated = await kpi_timeline(kpi.engine(), hist, T0, T0 + 360 * S)
    assert not truncated
    assert [(s["category"], s["state"]) for s in segments] == [
        ("production", "Running"), ("delay", "Idle"), ("down", "Alarm"), ("unknown", None), ("setup", "Setup")]
    assert segments[0]["start"].startswith("2027-01-15T08:00:00")
    assert segments[-1]["end"].startswith("2027-01-15T08:06:00")
    assert segments[1]["start"].startswith("2027-01-15T08:01:00")


async def test_state_point_timeline_without_kpis() -> None:
    hist = Rows({"EM01/OperationalData/Machine.State": [(T0 + 10 * S, "Running", 0), (T0 + 20 * S, "Running", 0),
                                                        (T0 + 30 * S, "Off", 0), (T0 + 40 * S, "Weird", 0)]})
    segments, _ = await point_timeline(hist, "EM01/OperationalData/Machine.State", T0, T0 + 50 * S)
    assert [(s["category"], s["state"]) for s in segments] == [
        ("unknown", None), ("production", "Running"), ("not_planned", "Off"), ("unknown", "Weird")]
    missing, _ = await point_timeline(hist, "EM01/OperationalData/Nope", T0, T0 + 50 * S)
    assert [s["category"] for s in missing] == ["unknown"]
