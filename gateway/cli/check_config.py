"""`aas-gateway check-config FILE`: validate a config and print every problem with its key path."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.common import EXIT_OK, EXIT_USAGE, Subparsers


def register(sub: Subparsers) -> None:
    c = sub.add_parser("check-config", help="validate a configuration file and report every problem")
    c.add_argument("file", help="YAML configuration file")
    c.set_defaults(func=cmd_check_config)


def cmd_check_config(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError, load_config, source_summary

    try:
        cfg = load_config(args.file)
    except ConfigError as e:
        print(e.report(), file=sys.stderr)
        print(f"{len(e.issues)} problem(s) found", file=sys.stderr)
        return EXIT_USAGE
    points = sum(len(a.points) for a in cfg.assets)
    print(f"{args.file}: OK: {len(cfg.assets)} asset(s), {points} point(s)")
    for a in cfg.assets:
        print(f"  {a.id_short:<12} {source_summary(a.source)} points={len(a.points)}")
    for f in cfg.forwarders:
        print(f"  forwarder {f.name}: {f.sink.type} (start_from={f.start_from})")
    return EXIT_OK
