"""`aas-gateway audit export`: the audit records of a time window, for the yearly operations report.

Reads the rotated files and the current one in time order. Only the config's `audit:` section is
read (not the whole config validated), so an export works on a machine without the secrets the
gateway's sources need.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from gateway.audit import AuditConfig, parse_ts, read_records

FIELDS = ("ts", "actor", "source", "action", "target", "old", "new", "result", "detail")
EXIT_USAGE = 2


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="export the audit log (writes, invocations, admin)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="gateway configuration file (its audit.path is used)")
    where.add_argument("--audit-path", help="the current audit file (rotated files are found beside it)")
    asub = p.add_subparsers(dest="audit_command", required=True)
    e = asub.add_parser("export", help="print the records of a time window (current and rotated files)")
    e.add_argument("--from", dest="start", metavar="ISO", help="first instant, inclusive (e.g. 2026-01-01 or "
                   "2026-01-01T08:00:00Z; naive means UTC); default: the beginning")
    e.add_argument("--to", dest="end", metavar="ISO", help="last instant, exclusive; default: now")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(func=cmd_export)
    from gateway.ops.verify import cmd_verify  # the hash chains of the audit log and the ledger (issue 15)

    v = asub.add_parser("verify", help="check that no audit or ledger record was edited, deleted, inserted or "
                        "reordered (exit 1 naming file and line if one was)")
    v.add_argument("--pki-dir", help="PKI folder holding log-signing/public.pem (default: the config's)")
    v.add_argument("--ledger-path", help="with --audit-path: also this ledger file (ledger/ledger.jsonl)")
    v.add_argument("--historian", help="with --audit-path: the historian holding the daily anchors")
    v.add_argument("--no-anchors", action="store_true", help="do not compare with the anchors in the historian")
    v.add_argument("--json", action="store_true", help="findings as JSON")
    v.set_defaults(func=cmd_verify)


def audit_path(args: argparse.Namespace) -> Path:
    if args.audit_path:
        return Path(args.audit_path)
    with open(args.config, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    doc = doc if isinstance(doc, dict) else {}
    # the same resolution as load_config (relative to the config file), without resolving its secrets
    base = Path(args.config).resolve().parent
    historian = doc.get("historian") or {}
    historian_path = base / Path(historian.get("path", "data/historian.sqlite") if isinstance(historian, dict)
                                 else "data/historian.sqlite")
    return AuditConfig.model_validate(doc.get("audit") or {}).resolved(base, historian_path).path


def cmd_export(args: argparse.Namespace) -> int:
    try:
        path = audit_path(args)
    except (OSError, yaml.YAMLError, ValidationError) as e:
        print(f"audit: cannot read the audit path from {args.config}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        start = parse_ts(args.start) if args.start else None
        end = parse_ts(args.end) if args.end else None
    except ValueError as e:
        print(f"audit: --from/--to must be ISO 8601 times: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not path.exists() and not path.parent.is_dir():
        print(f"audit: no audit log at {path}", file=sys.stderr)
        return 1
    records = read_records(path, start, end)
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            n = write_records(records, out, args.format)
    else:
        n = write_records(records, sys.stdout, args.format)
    print(f"{n} record(s) exported from {path}", file=sys.stderr)
    return 0


def write_records(records: Any, out: TextIO, fmt: str) -> int:
    n = 0
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(FIELDS)
        for rec in records:
            w.writerow([_cell(rec.get(k)) for k in FIELDS])
            n += 1
    else:
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
