"""`aas-gateway audit export|verify`: the audit records of a time window, for the yearly operations report.

Reads the rotated files and the current one in time order. With `-c` the audit file is the one the
gateway writes (`gateway.cli.paths`, the config validated like `run` does, so its secrets must be
resolvable); on a machine without them, name the file with `--audit-file`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, TextIO

from gateway.cli import paths
from gateway.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_audit_file_option,
    add_config_option,
    fail,
)

FIELDS = ("ts", "actor", "source", "action", "target", "old", "new", "result", "detail")


def register(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="export the audit log (writes, invocations, admin)")
    where = p.add_mutually_exclusive_group(required=True)
    add_config_option(where, "gateway configuration file (its audit.path is used)")
    add_audit_file_option(where, "the current audit file (rotated files are found beside it)")
    asub = p.add_subparsers(dest="audit_command", required=True)
    e = asub.add_parser("export", help="print the records of a time window (current and rotated files)")
    e.add_argument("--from", dest="start", metavar="ISO", help="first instant, inclusive (e.g. 2026-01-01 or "
                   "2026-01-01T08:00:00Z; naive means UTC); default: the beginning")
    e.add_argument("--to", dest="end", metavar="ISO", help="last instant, exclusive; default: now")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(func=cmd_export)
    v = asub.add_parser("verify", help="check that no audit or ledger record was edited, deleted, inserted or "
                        "reordered (exit 1 naming file and line if one was)")
    v.add_argument("--pki-dir", help="PKI folder holding log-signing/public.pem (default: the config's)")
    v.add_argument("--ledger-path", help="with --audit-file: also this ledger file (ledger/ledger.jsonl)")
    v.add_argument("--historian", help="with --audit-file: the historian holding the daily anchors")
    v.add_argument("--no-anchors", action="store_true", help="do not compare with the anchors in the historian")
    v.add_argument("--json", action="store_true", help="findings as JSON")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """`aas-gateway audit verify`: exit 0 if both chains are intact, 1 if anything was found, 2 on bad usage."""
    from pathlib import Path

    from gateway.ops.checkpoint import signing_dir
    from gateway.ops.paths import PathsError, from_config
    from gateway.ops.service import gateway_id_short_of
    from gateway.ops.verify import read_anchors, verify_log

    config = getattr(args, "config", None)
    key_dir = Path(args.pki_dir) / "log-signing" if getattr(args, "pki_dir", None) else None
    logs: list[tuple[str, Path]] = []
    historian: Path | None = None
    asset: str | None = None
    if config:
        try:
            paths = from_config(Path(config))
        except PathsError as e:
            print(f"audit verify: {e}", file=sys.stderr)
            return 2
        logs = [("audit", paths.audit), ("ledger", paths.ledger)]
        historian = paths.historian
        asset = gateway_id_short_of(paths.gateway_name)
        key_dir = key_dir or signing_dir(paths.pki)
    else:
        logs = [("audit", Path(args.audit_file))]
        if getattr(args, "ledger_path", None):
            logs.append(("ledger", Path(args.ledger_path)))
        if getattr(args, "historian", None):
            historian = Path(args.historian)
    verdicts = []
    for name, current in logs:
        anchors = read_anchors(historian, name, asset) if historian is not None and \
            not getattr(args, "no_anchors", False) else []
        verdicts.append(verify_log(name, current, key_dir, anchors))
    if getattr(args, "json", False):
        print(json.dumps([{"log": v.name, "path": str(v.current), "records": v.result.records,
                           "legacy": v.result.legacy, "files": v.result.files, "head_seq": v.result.head.seq,
                           "head": v.result.head.hash, "anchors_checked": v.anchors_checked,
                           "findings": [{"file": f.file, "line": f.line, "kind": f.kind, "message": f.message,
                                         "problem": f.problem} for f in v.findings]} for v in verdicts], indent=1))
    else:
        for v in verdicts:
            for f in v.findings:
                print(("PROBLEM " if f.problem else "note    ") + str(f))
            print(v.summary())
    return 1 if any(v.problems for v in verdicts) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from gateway.audit import parse_ts, read_records

    found = paths.resolve(args.config, audit_file=args.audit_file,
                          hint="(name the audit file with --audit-file to export without the config)")
    if found is None:
        return EXIT_USAGE
    path = found.audit
    try:
        start = parse_ts(args.start) if args.start else None
        end = parse_ts(args.end) if args.end else None
    except ValueError as e:
        return fail(f"audit: --from/--to must be ISO 8601 times: {e}", EXIT_USAGE)
    if not path.exists() and not path.parent.is_dir():
        return fail(f"audit: no audit log at {path}", EXIT_FAILURE)
    records = read_records(path, start, end)
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            n = write_records(records, out, args.format)
    else:
        n = write_records(records, sys.stdout, args.format)
    print(f"{n} record(s) exported from {path}", file=sys.stderr)
    return EXIT_OK


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
