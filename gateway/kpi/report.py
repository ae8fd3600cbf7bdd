"""The KPI report: recomputed periods (and orders) as rows, printed as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from connectors.sample import ns_to_iso
from gateway.historian import Historian, split_point_id
from gateway.kpi.asset import AssetKpi
from gateway.kpi.calendar import Window
from gateway.kpi.formulas import kpis
from gateway.kpi.recompute import PeriodResult, feed_from_historian, recompute

# (column, KPI key, format) of the table; CSV and JSON carry every KPI
TABLE = (("OEE", "OEE", "pct"), ("A", "Availability", "pct"), ("E", "Effectiveness", "pct"),
         ("Q", "QualityRatio", "pct"), ("PBT h", "PlannedBusyTime", "h"), ("APT h", "ActualProductionTime", "h"),
         ("setup h", "ActualUnitSetupTime", "h"), ("delay h", "ActualUnitDelayTime", "h"),
         ("down h", "ActualUnitDownTime", "h"), ("unkn h", "UnknownTime", "h"), ("PQ", "ProducedQuantity", "n"),
         ("GQ", "GoodQuantity", "n"), ("SQ", "ScrapQuantity", "n"), ("MTTR min", "MTTR", "min"),
         ("kWh", "EnergyConsumption", "f1"), ("kWh/part", "EnergyPerGoodPart", "f3"))


async def period_rows(kpi: AssetKpi, historian: Historian, kind: str, start: int, end: int) -> list[dict[str, Any]]:
    """One row per closed period of `kind` that starts in [start, end) and has ended by `end`."""
    results = [r for r in await recompute(kpi, historian, [kind], start, end) if r.window.end <= end]
    return [_row(kpi, r) for r in results]


async def order_rows(kpi: AssetKpi, historian: Historian, start: int, end: int) -> list[dict[str, Any]]:
    """One row per production order set in [start, end): from its start to the next order (or `end`)."""
    asset, submodel, path = split_point_id(kpi.inputs.order_id)
    rows = [r for r in await historian.query(asset, submodel, path, start_ns=start, end_ns=end, limit=100_000)
            if r.value not in (None, "")]
    if not rows:
        return []
    windows = [Window("order", r.ts, rows[i + 1].ts if i + 1 < len(rows) else end, str(r.value))
               for i, r in enumerate(rows)]
    engine = kpi.engine()
    await feed_from_historian(engine, historian, windows[0].start, end + engine.grace_ns)
    out = []
    for w in windows:
        row = _row(kpi, PeriodResult(w, engine.totals(w, w.end)))
        order = engine.order(w.end - 1)
        row["PlannedQuantity"] = order.planned if order is not None else None
        row["Progress"] = order.progress if order is not None else None
        out.append(row)
    return out


def _row(kpi: AssetKpi, r: PeriodResult) -> dict[str, Any]:
    values = kpis(r.totals)
    return {"asset": kpi.asset, "period": r.window.kind, "name": r.window.label, "start": ns_to_iso(r.window.start),
            "end": ns_to_iso(r.window.end), **values,
            "DowntimeByReason": {k or "(none)": v / 1e9 for k, v in sorted(r.totals.down_by_reason.items())}}


def _fmt(v: Any, how: str) -> str:
    if v is None:
        return "-"
    if how == "pct":
        return f"{100 * v:.1f}%"
    if how == "h":
        return f"{v / 3600:.2f}"
    if how == "min":
        return f"{v / 60:.1f}"
    if how == "n":
        return f"{v:.0f}"
    return f"{v:.{how[1:]}f}"


def render(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(list(rows), indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        if rows:
            keys = [k for k in rows[0] if k != "DowntimeByReason"]
            w = csv.DictWriter(buf, keys, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()
    head = ["asset", "period", *(c for c, _, _ in TABLE)]
    table = [head] + [[r["asset"], r["name"], *(_fmt(r.get(k), how) for _, k, how in TABLE)] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in table]
    return "\n".join(lines) + ("\n" if rows else "\n(no closed period in the window)\n")
