"""`aas-gateway demo`: simulated machines and the gateway together (the demo itself: `gateway.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import Subparsers, add_log_options


def register(sub: Subparsers) -> None:
    d = sub.add_parser("demo", help="start simulated machines and the gateway together, embedded historian")
    d.add_argument("--data-dir", default="demo-data", help="where the demo keeps its historian, PKI, keys and "
                   "audit log (default ./demo-data)")
    d.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    d.add_argument("--seed", type=int, default=1, help="seed of the simulated machines (default 1)")
    d.add_argument("--status-every", type=float, default=10.0, metavar="S",
                   help="print a status summary every S seconds (default 10)")
    d.add_argument("--port", type=int, default=8080, help="AAS API port (default 8080; 0 picks a free one)")
    add_log_options(d, level="INFO", fmt="text")
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo
    from gateway.logs import setup_logging

    setup_logging(args.log_level, args.log_format)
    return run_demo(data_dir=Path(args.data_dir), duration_s=args.duration, seed=args.seed,
                    status_every_s=args.status_every, port=args.port)
