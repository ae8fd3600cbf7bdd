"""`aas-gateway report operation`: the operation-rate report from the ledger, as CSV, printable HTML or JSON.

Reads the ledger files (and, to know whether the current run is still going, the data directory's
run lock), never the running gateway, so it works beside it, after it crashed, or on a copy restored
from a backup. The HTML page is self-contained (no scripts, nothing loaded from elsewhere): print it
or archive it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.cli.common import EXIT_USAGE, Subparsers


def register(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser("report", help="reports from the gateway's own records "
                                                "(operation rate)")
    rsub = p.add_subparsers(dest="report_command", required=True)
    o = rsub.add_parser("operation", help="availability, outages and data completeness of the gateway, its "
                        "sources and forwarders, per day and month")
    where = o.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="gateway configuration file (finds the data directory)")
    where.add_argument("--data-dir", help="the gateway's data directory (holding ledger/)")
    o.add_argument("--from", dest="start", metavar="ISO", help="first instant, inclusive (e.g. 2026-01-01; naive "
                   "means UTC); default: the first ledger record")
    o.add_argument("--to", dest="end", metavar="ISO", help="last instant, exclusive; default: now")
    o.add_argument("--tz", help="time zone of days and months (IANA name; default: the config's ledger.timezone, "
                   "else UTC)")
    o.add_argument("--format", choices=["csv", "html", "json"], default="csv")
    o.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    o.set_defaults(func=cmd_operation)


def cmd_operation(args: argparse.Namespace) -> int:
    from gateway.ops.checkpoint import signing_dir
    from gateway.ops.paths import PathsError, from_config, from_data_dir
    from gateway.ops.report import load_records, operation_report, to_csv, to_html, to_json
    from gateway.ops.runlock import running_pid
    from gateway.ops.verify import verify_log

    try:
        paths = from_config(Path(args.config)) if args.config else from_data_dir(Path(args.data_dir))
    except PathsError as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_USAGE
    tz = args.tz or paths.ledger_tz
    try:
        ZoneInfo(tz)
        start_ns = _ns(args.start) if args.start else None
        end_ns = _ns(args.end) if args.end else time.time_ns()
    except (ValueError, ZoneInfoNotFoundError) as e:
        print(f"report: --from/--to must be ISO 8601 times and --tz an IANA zone: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not paths.ledger.exists() and not paths.ledger.parent.is_dir():
        print(f"report: no operation ledger at {paths.ledger}", file=sys.stderr)
        return 1
    now = time.time_ns()
    if start_ns is None:
        first = next((r for r in load_records(paths.ledger) if r.get("kind") == "start"), None)
        start_ns = _ns(str(first.get("at") or first.get("ts"))) if first else now
    if end_ns <= start_ns:
        print("report: --to must be after --from", file=sys.stderr)
        return EXIT_USAGE
    report = operation_report(paths.data_dir, start_ns, end_ns, tz, now, running_pid(paths.data_dir) is not None)
    verdict = verify_log("ledger", paths.ledger, signing_dir(paths.pki))
    report.chain = (f"Ledger hash chain: {verdict.result.records} records, intact." if not verdict.problems else
                    f"Ledger hash chain: {len(verdict.problems)} PROBLEM(S) (run aas-gateway audit verify).")
    text = {"csv": to_csv, "json": to_json}.get(args.format, lambda r: to_html(
        r, f"Operation report: {paths.gateway_name}"))(report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"report written to {args.out} ({report.chain})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _ns(text: str) -> int:
    from gateway.ops.chainlog import parse_ts
    from gateway.ops.ledger import NS

    dt = parse_ts(text)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000
