"""The state timeline of an asset: production, setup, idle, down, not planned, unknown, over a time range.

For an asset with KPIs the timeline is the KPI engine's own: the engine is fed the state inputs
(state, machine and operator operation mode, the gateway's restart marker) from the historian,
exactly as the recompute does, and classifies every change with its classifier; so the bar shows
the categories the OEE was computed from, and the gateway's own downtime and a machine that was
unreachable are unknown, never production. Without KPIs it is the history of the asset's state
point, its values mapped by their usual names (bad samples: unknown).
"""

from __future__ import annotations

from typing import Any

from connectors.sample import ns_to_iso
from gateway.historian import UnknownPointError
from gateway.kpi import categories
from gateway.kpi.engine import AssetEngine
from gateway.ui.index import DEFAULT_STATE_MAP, DashboardIndex, UiAsset

MAX_ROWS = 200_000  # per input point and request
BEFORE_ROWS = 50  # the value in force at the start, and re-notifications with older source times
_BAD = 0x80000000


async def _rows(historian: Any, pid: str, start: int, end: int) -> tuple[list[tuple[int, int, Any, int, int]], bool]:
    try:
        before = await historian.raw_rows(pid, end_ns=start, limit=BEFORE_ROWS, descending=True)
        rows = await historian.raw_rows(pid, start_ns=start, end_ns=end, limit=MAX_ROWS)
    except UnknownPointError:
        return [], False
    return before[::-1] + rows, len(rows) >= MAX_ROWS


def _merge(points: list[tuple[int, str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    """[(t, category, state)] sorted by t -> segments with consecutive equal (category, state) merged."""
    out: list[list[Any]] = []
    for t, cat, state in points:
        t = max(t, start)
        if t >= end:
            break
        if out and out[-1][2] == cat and out[-1][3] == state:
            continue
        if out and out[-1][0] == t:
            out[-1][2:] = [cat, state]
            continue
        out.append([t, None, cat, state])
    for i, seg in enumerate(out):
        seg[1] = out[i + 1][0] if i + 1 < len(out) else end
    return [{"start": ns_to_iso(a), "end": ns_to_iso(b), "category": c,
             "state": s if isinstance(s, str | int | float | bool) or s is None else str(s)} for a, b, c, s in out]


async def kpi_timeline(engine: AssetEngine, historian: Any, start: int, end: int) -> tuple[list[dict[str, Any]], bool]:
    inputs = engine.inputs
    truncated = False
    for pid in (inputs.state, inputs.machine_mode, inputs.operator_mode, inputs.restart):
        if pid is None:
            continue
        rows, cut = await _rows(historian, pid, start - engine.skew_ns, end + engine.skew_ns)
        truncated = truncated or cut
        if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
            rows.sort()  # by seq: the order the live engine saw them in
        engine.feed_rows(pid, rows)
    unknown = engine._unknown_intervals()  # the engine's rule for the gateway's own downtime
    times = {start}
    for steps in (engine.state, engine.machine_mode, engine.operator_mode):
        if steps is not None:
            times.update(steps.changes(start, end))
    for a, b in unknown:
        times.update(t for t in (a, b) if start < t < end)
    points = []
    for t in sorted(times):
        if any(a <= t < b for a, b in unknown):
            cat, state = categories.UNKNOWN, None
        else:
            cat = engine._classify(t)  # the engine's classifier on the inputs in force at t
            state = engine.state.at(t)
            state = None if state is categories.BAD else state
        points.append((t, cat, state))
    return _merge(points, start, end), truncated


async def point_timeline(historian: Any, pid: str, start: int, end: int) -> tuple[list[dict[str, Any]], bool]:
    rows, truncated = await _rows(historian, pid, start, end)
    points = []
    last_before = None
    for _, ts, value, status, _ in rows:
        if status & _BAD or value is None:
            cat, state = categories.UNKNOWN, None
        else:
            cat, state = DEFAULT_STATE_MAP.get(str(value).replace(" ", "").lower(), categories.UNKNOWN), value
        if ts < start:
            last_before = (start, cat, state)
            continue
        points.append((ts, cat, state))
    if last_before is not None:
        points.insert(0, last_before)
    elif not points or points[0][0] > start:
        points.insert(0, (start, categories.UNKNOWN, None))
    return _merge(points, start, end), truncated


async def state_timeline(index: DashboardIndex, ua: UiAsset, start: int, end: int) -> dict[str, Any]:
    historian = index.gateway.historian
    asset_cfg = next(a for a in index.gateway.cfg.assets if a.id_short == ua.id_short)
    segments: list[dict[str, Any]] = []
    truncated = False
    if asset_cfg.kpi is not None:
        from gateway.kpi.asset import asset_kpi

        segments, truncated = await kpi_timeline(asset_kpi(index.gateway.cfg, asset_cfg).engine(), historian,
                                                 start, end)
        source = "kpi"
    elif ua.state_point is not None:
        segments, truncated = await point_timeline(historian, ua.state_point, start, end)
        source = "state"
    else:
        source = "none"
    return {"from": ns_to_iso(start), "to": ns_to_iso(end), "source": source, "segments": segments,
            "truncated": truncated}
