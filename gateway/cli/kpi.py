"""`aas-gateway kpi`: shift, hour, day or order report recomputed from the historian (table, CSV, JSON).

The same engine as the live gateway, on the historian's samples: a closed shift shows the numbers
the gateway published for it. Reads the historian beside a running gateway (SQLite WAL).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from connectors.sample import datetime_to_ns, now_ns
from gateway.cli import paths
from gateway.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Subparsers, add_config_option, fail


def _when(text: str) -> int:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or date-time, e.g. 2026-12-07 or "
                                         "2026-12-07T06:00+09:00") from None
    return datetime_to_ns(dt)  # naive: UTC


async def _report(args: argparse.Namespace) -> int:
    found = paths.resolve(args.config, db=args.db)
    if found is None or found.config is None:
        return EXIT_USAGE
    cfg, db = found.config, found.historian
    from gateway.historian import Historian
    from gateway.kpi.asset import asset_kpis
    from gateway.kpi.report import order_rows, period_rows, render

    kpis = [k for k in asset_kpis(cfg) if args.asset in (None, k.asset)]
    if not kpis:
        return fail(f"no asset with a kpi block{' named ' + args.asset if args.asset else ''} in {args.config}")
    if not db.exists():
        return fail(f"no historian at {db}", EXIT_FAILURE)
    end = args.to if args.to is not None else now_ns()
    start = args.from_ if args.from_ is not None else end - 86400 * 10**9
    if start >= end:
        return fail("--from must be before --to", EXIT_USAGE)
    rows = []
    async with Historian(cfg.historian.model_copy(update={"path": db})) as h:
        for k in kpis:
            if args.period == "order":
                rows += await order_rows(k, h, start, end)
            else:
                rows += await period_rows(k, h, args.period, start, end)
    return _write(render(rows, args.format), args.out)


def _write(text: str, out: str | None) -> int:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_kpi(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_report(args))


def register(sub: Subparsers) -> None:
    k = sub.add_parser("kpi", help="ISO 22400 KPI report (shift, hour, day or order) recomputed from the historian")
    add_config_option(k, "gateway configuration (its kpi blocks and historian)", required=True)
    k.add_argument("--db", metavar="FILE", help="historian file instead of the config's")
    k.add_argument("--asset", help="only this asset (idShort)")
    k.add_argument("--period", choices=["shift", "hour", "day", "order"], default="shift")
    k.add_argument("--from", dest="from_", type=_when, default=None, help="start (ISO; default: 24 h before --to)")
    k.add_argument("--to", type=_when, default=None, help="end (ISO; default: now); periods must have ended")
    k.add_argument("--format", choices=["table", "csv", "json"], default="table")
    k.add_argument("--out", help="write to this file instead of stdout")
    k.set_defaults(func=cmd_kpi)
