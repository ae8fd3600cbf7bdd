"""Operation rate from the ledger: availability, outages and completeness per day and month.

A pure function of the ledger's records (`gateway.ops.ledger`), so the report a plant prints, the
OperationRate submodel the gateway publishes and a recomputation years later agree. Entities:
``gateway`` (the process ran), ``source:<asset>`` (connected to its machine), ``forwarder:<name>``
(delivering to its peer).

For each period and entity: *monitored* time is the part of the period since the entity was first
configured, up to now (so time the gateway was not running is in it); *up* time is the gateway's
running time, a source's connected time, a forwarder's delivering time (all inside runs: while the
gateway is down nothing is connected or delivered); *down* = monitored - up, split into outages.
Availability = up / monitored. Completeness (sources) = received / expected sampling instants
(definitions in gateway/ops/ledger.py), counts split over periods in proportion to time.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.ops.chain import parse_line
from gateway.ops.chainlog import log_files, parse_ts
from gateway.ops.ledger import FORWARDER_UP, NS, SOURCE_UP, read_heartbeat

GATEWAY = "gateway"


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    dt = parse_ts(text)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def load_records(current: Path) -> list[dict[str, Any]]:
    """Every readable record of a ledger (rotated files, then the current one), in file order."""
    out = []
    for path in log_files(current):
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            continue
        with f:
            for raw in f:
                rec = parse_line(raw)
                if rec is not None:
                    out.append(rec)
    return out


@dataclass
class Timeline:
    """What the ledger says, as intervals [start, end) in epoch ns."""

    up: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # entity -> up intervals, sorted
    first: dict[str, int] = field(default_factory=dict)  # entity -> first monitored instant
    counts: list[tuple[int, int, str, float, float, int]] = field(default_factory=list)
    now_ns: int = 0
    runs: int = 0
    crashes: list[tuple[int | None, int]] = field(default_factory=list)  # (down from, restarted at)

    def entities(self) -> list[str]:
        order = {GATEWAY: 0, "source": 1, "forwarder": 2}
        return sorted(self.first, key=lambda e: (order.get(e.split(":")[0], 3), e))


def _up_state(entity: str, state: str) -> bool:
    if entity.startswith("source:"):
        return state == SOURCE_UP
    if entity.startswith("forwarder:"):
        return state == FORWARDER_UP
    return False


def build_timeline(records: Iterable[dict[str, Any]], now_ns: int, running: bool,
                   heartbeat: dict[str, Any] | None = None) -> Timeline:
    tl = Timeline(now_ns=now_ns)
    run: dict[str, Any] | None = None  # id, start, last, entity -> (state, since)

    def close(end: int) -> None:
        nonlocal run
        assert run is not None
        end = max(end, run["start"])
        tl.up.setdefault(GATEWAY, []).append((run["start"], end))
        for entity, (state, since) in run["states"].items():
            if _up_state(entity, state) and end > since:
                tl.up.setdefault(entity, []).append((since, end))
        run = None

    for rec in records:
        kind = rec.get("kind")
        ts = _ns(rec.get("ts")) if isinstance(rec.get("ts"), str) else None
        if run is not None and ts is not None and kind not in ("crash", "start"):
            run["last"] = max(run["last"], ts)
        if kind == "start":
            at = _ns(rec.get("at")) or ts or 0
            if run is not None:  # a run that left neither a stop nor a crash record: up to its last record
                close(run["last"])
            tl.runs += 1
            tl.first.setdefault(GATEWAY, at)
            entities = [f"source:{s}" for s in (rec.get("sources") or {})]
            entities += [f"forwarder:{f}" for f in (rec.get("forwarders") or [])]
            for e in entities:
                tl.first.setdefault(e, at)
            run = {"id": rec.get("run"), "start": at, "last": at, "states": {e: ("starting", at) for e in entities}}
        elif kind == "state" and run is not None and rec.get("run") == run["id"]:
            entity, state = str(rec.get("entity")), str(rec.get("state"))
            at = max(_ns(rec.get("at")) or ts or run["start"], run["start"])
            old, since = run["states"].get(entity, ("starting", run["start"]))
            if _up_state(entity, old) and at > since:
                tl.up.setdefault(entity, []).append((since, at))
            run["states"][entity] = (state, at)
            tl.first.setdefault(entity, run["start"])
        elif kind == "stop" and run is not None and rec.get("run") == run["id"]:
            close(_ns(rec.get("at")) or ts or run["last"])
        elif kind == "crash" and run is not None and rec.get("run") == run["id"]:
            alive = _ns(rec.get("last_alive")) or run["last"]
            tl.crashes.append((alive, ts or alive))
            close(alive)
        elif kind == "counts":
            start, end = _ns(rec.get("from")), _ns(rec.get("to"))
            if start is None or end is None:
                continue
            for src, c in (rec.get("sources") or {}).items():
                if isinstance(c, dict):
                    tl.counts.append((start, end, src, float(c.get("expected") or 0), float(c.get("received") or 0),
                                      int(c.get("samples") or 0)))
    if run is not None:
        if running:
            end = now_ns
        else:  # not running and no stop: it crashed; up to its last sign of life
            end = run["last"]
            if heartbeat and heartbeat.get("run") == run["id"] and isinstance(heartbeat.get("at_ns"), int):
                end = max(end, heartbeat["at_ns"])
        close(min(end, now_ns))
    for intervals in tl.up.values():
        intervals.sort()
    return tl


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


@dataclass
class Row:
    period: str  # day | month | total
    start: str  # local date (or month) label
    start_ns: int
    end_ns: int
    entity: str
    monitored_s: float
    up_s: float
    down_s: float
    availability: float | None
    outages: int
    longest_outage_s: float
    expected: float | None = None
    received: float | None = None
    completeness: float | None = None
    samples: int | None = None

    def csv_row(self) -> list[Any]:
        def r(v: float | None, n: int) -> Any:
            return "" if v is None else round(v, n)

        return [self.period, self.start, _iso(self.start_ns), _iso(self.end_ns), self.entity,
                r(self.monitored_s, 3), r(self.up_s, 3), r(self.down_s, 3), r(self.availability, 6), self.outages,
                r(self.longest_outage_s, 3), r(self.expected, 1), r(self.received, 1), r(self.completeness, 6),
                "" if self.samples is None else self.samples]


CSV_FIELDS = ["period", "label", "start", "end", "entity", "monitored_s", "up_s", "down_s", "availability",
              "outages", "longest_outage_s", "expected_instants", "received_instants", "completeness",
              "samples_stored"]


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def downs(tl: Timeline, entity: str, start: int, end: int) -> list[tuple[int, int]]:
    """The entity's down intervals inside [start, end) (clipped to its monitored time)."""
    start = max(start, tl.first.get(entity, end))
    end = min(end, tl.now_ns)
    out = []
    t = start
    for u0, u1 in tl.up.get(entity, []):
        if u1 <= t:
            continue
        if u0 >= end:
            break
        if u0 > t:
            out.append((t, min(u0, end)))
        t = max(t, u1)
        if t >= end:
            break
    if t < end:
        out.append((t, end))
    return out


def summarise(tl: Timeline, entity: str, period: str, label: str, start: int, end: int) -> Row:
    first = tl.first.get(entity, end)
    mon_start, mon_end = max(start, first), min(end, tl.now_ns)
    monitored = max(0, mon_end - mon_start)
    up = sum(_overlap(u0, u1, mon_start, mon_end) for u0, u1 in tl.up.get(entity, []))
    gaps = downs(tl, entity, start, end) if monitored else []
    row = Row(period, label, start, end, entity, monitored / NS, up / NS, (monitored - up) / NS,
              (up / monitored) if monitored else None, len(gaps),
              max((b - a for a, b in gaps), default=0) / NS)
    if entity.startswith("source:"):
        name = entity.split(":", 1)[1]
        exp = rec = 0.0
        samples = 0
        for c0, c1, src, e, r, n in tl.counts:
            if src != name or c1 <= start or c0 >= end:
                continue
            share = _overlap(c0, c1, start, end) / (c1 - c0) if c1 > c0 else 1.0
            exp += e * share
            rec += r * share
            samples += round(n * share)
        row.expected, row.received, row.samples = exp, rec, samples
        row.completeness = (rec / exp) if exp > 0 else None
    return row


def periods(start_ns: int, end_ns: int, tz: ZoneInfo, unit: str) -> Iterator[tuple[str, int, int]]:
    """(label, start, end) of each local day or month overlapping [start, end)."""
    t = datetime.fromtimestamp(start_ns / NS, tz)
    cur = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        cur = cur.replace(day=1)
    while True:
        if unit == "day":
            nxt = (cur + timedelta(days=1, hours=2)).replace(hour=0, minute=0, second=0, microsecond=0)
            label = cur.date().isoformat()
        else:
            nxt = (cur + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            label = cur.strftime("%Y-%m")
        a = int(cur.astimezone(UTC).timestamp()) * NS
        b = int(nxt.astimezone(UTC).timestamp()) * NS
        if a >= end_ns:
            break
        yield label, a, b
        cur = nxt


@dataclass
class Report:
    start_ns: int
    end_ns: int
    tz: str
    rows: list[Row]
    outages: list[tuple[str, int, int]]  # entity, from, to (inside the window)
    timeline: Timeline
    chain: str = ""  # what verify said about the ledger

    def total(self, entity: str) -> Row | None:
        return next((r for r in self.rows if r.period == "total" and r.entity == entity), None)


def build_report(tl: Timeline, start_ns: int, end_ns: int, tz: str = "UTC") -> Report:
    zone = ZoneInfo(tz)
    rows: list[Row] = []
    entities = tl.entities()
    for unit in ("month", "day"):
        for label, a, b in periods(start_ns, end_ns, zone, unit):
            a, b = max(a, start_ns), min(b, end_ns)
            rows.extend(summarise(tl, e, unit, label, a, b) for e in entities)
    rows.extend(summarise(tl, e, "total", "total", start_ns, end_ns) for e in entities)
    outages = [(e, a, b) for e in entities for a, b in downs(tl, e, start_ns, end_ns)]
    return Report(start_ns, end_ns, tz, rows, outages, tl)


def operation_report(data_dir: Path, start_ns: int, end_ns: int, tz: str, now_ns: int,
                     running: bool) -> Report:
    from gateway.ops.ledger import LedgerPaths

    paths = LedgerPaths.of(data_dir)
    tl = build_timeline(load_records(paths.current), now_ns, running, read_heartbeat(paths.heartbeat))
    return build_report(tl, start_ns, min(end_ns, max(now_ns, start_ns)), tz)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in report.rows:
        w.writerow(r.csv_row())
    return out.getvalue()


def to_json(report: Report) -> str:
    return json.dumps({"from": _iso(report.start_ns), "to": _iso(report.end_ns), "timezone": report.tz,
                       "rows": [dict(zip(CSV_FIELDS, r.csv_row(), strict=True)) for r in report.rows],
                       "outages": [{"entity": e, "from": _iso(a), "to": _iso(b), "seconds": (b - a) / NS}
                                   for e, a, b in report.outages]}, indent=1)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.3f} %"


def _dur(s: float) -> str:
    s = round(s)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return (f"{d} d " if d else "") + f"{h:02d}:{m:02d}:{sec:02d}"


_CSS = """
body{font:11pt/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#111}
h1{font-size:16pt;margin:0 0 .2em}h2{font-size:13pt;margin:1.4em 0 .4em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.4em 0;font-size:9.5pt}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:right}th{background:#eee}
td.l,th.l{text-align:left}.bad{color:#a00;font-weight:600}.meta{color:#444;font-size:9.5pt}
@media print{body{margin:1cm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
"""


def _table(rows: Sequence[Row], with_label: bool = True) -> str:
    head = ("<tr>" + ("<th class=l>period</th>" if with_label else "") +
            "<th class=l>entity</th><th>monitored</th><th>up</th><th>down</th><th>availability</th>"
            "<th>outages</th><th>longest</th><th>completeness</th><th>samples stored</th></tr>")
    body = []
    for r in rows:
        cls = " class=bad" if r.availability is not None and r.availability < 1 else ""
        body.append("<tr>" + (f"<td class=l>{html.escape(r.start)}</td>" if with_label else "") +
                    f"<td class=l>{html.escape(r.entity)}</td><td>{_dur(r.monitored_s)}</td><td>{_dur(r.up_s)}</td>"
                    f"<td>{_dur(r.down_s)}</td><td{cls}>{_pct(r.availability)}</td><td>{r.outages}</td>"
                    f"<td>{_dur(r.longest_outage_s)}</td><td>{_pct(r.completeness)}</td>"
                    f"<td>{'' if r.samples is None else r.samples}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def to_html(report: Report, title: str = "Operation report") -> str:
    """A printable, self-contained page (no scripts, no fonts or styles from anywhere else)."""
    totals = [r for r in report.rows if r.period == "total"]
    months = [r for r in report.rows if r.period == "month"]
    days = [r for r in report.rows if r.period == "day"]
    outages = "".join(f"<tr><td class=l>{html.escape(e)}</td><td class=l>{_iso(a)}</td><td class=l>{_iso(b)}</td>"
                      f"<td>{(b - a) / NS:.3f} s</td></tr>" for e, a, b in report.outages[:2000])
    more = f"<p class=meta>... and {len(report.outages) - 2000} more (see the CSV)</p>" \
        if len(report.outages) > 2000 else ""
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p class=meta>{_iso(report.start_ns)} to {_iso(report.end_ns)} (days and months in {report.tz}); "
            f"generated {_iso(report.timeline.now_ns)}; {report.timeline.runs} run(s), "
            f"{len(report.timeline.crashes)} ended without a stop. {html.escape(report.chain)}</p>"
            f"<h2>Whole period</h2>{_table(totals, with_label=False)}"
            f"<h2>By month</h2>{_table(months)}<h2>By day</h2>{_table(days)}"
            f"<h2>Outages</h2><table><tr><th class=l>entity</th><th class=l>from</th><th class=l>to</th>"
            f"<th>duration</th></tr>{outages}</table>{more}"
            "<p class=meta>Availability = up / monitored time; the gateway's own downtime counts as down for every "
            "source and forwarder. Completeness = sampling instants with a valid value / instants expected by the "
            "sampling interval (see README, Operation-rate ledger).</p></body></html>\n")
