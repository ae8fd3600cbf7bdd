"""`aas-gateway history`: look into the historian from a terminal, without sqlite3 or the API."""

from __future__ import annotations

import argparse
import base64
import json
import re
from pathlib import Path

from connectors import status as st
from connectors.sample import flag_names, now_ns, ns_to_iso
from gateway.cli import paths
from gateway.cli.common import EXIT_FAILURE, EXIT_USAGE, Subparsers, add_config_option, fail

_UNITS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def parse_duration(text: str) -> int:
    """'500ms', '10s', '5m', '1h', '2d' -> nanoseconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 10s, 5m, 1h or 2d")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _status(code: int) -> str:
    return st.status_name(code)


def _text(value: object) -> str:
    """A stored value as JSON text, as the API shows it (ByteString as base64), never Python repr."""
    if isinstance(value, bytes):
        return json.dumps(base64.b64encode(value).decode("ascii"))
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


async def _show(db: Path, point: str | None, last: int, since_ns: int, bucket_ns: int | None) -> int:
    from gateway.config import HistorianSettings
    from gateway.historian import Historian, UnknownPointError

    async with Historian(HistorianSettings(path=db)) as h:
        if point is None:
            for info in await h.series():
                row = await h.latest(info.point_id)
                latest = f"{_text(row.value)} [{_status(row.status)}] at {ns_to_iso(row.ts)}" if row else "-"
                print(f"{info.point_id:<55} {info.value_type or '':<16} {info.unit or '':<8} {latest}")
            return 0
        asset, _, rest = point.partition("/")
        submodel, _, path = rest.partition("/")
        try:
            if bucket_ns:
                end = now_ns()
                buckets = await h.aggregate(asset, submodel, path, end - since_ns, end, bucket_ns)
                print(f"{'bucket start':<28} {'count':>6} {'min':>12} {'max':>12} {'avg':>12} {'last':>12}")
                for b in buckets:
                    print(f"{ns_to_iso(b.start_ns):<28} {b.count:>6} {b.min!s:>12.12} {b.max!s:>12.12} "
                          f"{b.avg:>12.4f} {b.last!s:>12.12}")
            else:
                rows = await h.query(asset, submodel, path, start_ns=now_ns() - since_ns, limit=last,
                                     descending=True)
                for r in reversed(rows):
                    flags = f"  [{', '.join(flag_names(r.flags))}]" if r.flags else ""
                    print(f"{ns_to_iso(r.ts):<28} {_text(r.value):<24} {_status(r.status)}{flags}")
        except UnknownPointError:
            return fail(f"unknown point {point!r}; run without a point to list them (asset/submodel/path)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    import asyncio

    found = paths.resolve(args.config, db=args.db)
    if found is None:
        return EXIT_USAGE
    if not found.historian.exists():
        return fail(f"no historian at {found.historian}", EXIT_FAILURE)
    return asyncio.run(_show(found.historian, args.point, args.last, args.since, args.bucket))


def register(sub: Subparsers) -> None:
    h = sub.add_parser("history", help="list stored points, or show a point's recent samples or trend")
    src = h.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", metavar="FILE", help="historian file, e.g. demo-data/historian.sqlite")
    add_config_option(src, "gateway configuration (uses its historian)")
    h.add_argument("point", nargs="?", help="asset/submodel/idShortPath, e.g. IMM01/OperationalData/Counters.Scrap")
    h.add_argument("--last", type=int, default=20, help="how many recent samples (default 20)")
    h.add_argument("--since", type=parse_duration, default=parse_duration("1h"), help="time window (default 1h)")
    h.add_argument("--bucket", type=parse_duration, default=None, help="aggregate per bucket, e.g. 1m")
    h.set_defaults(func=cmd_history)
