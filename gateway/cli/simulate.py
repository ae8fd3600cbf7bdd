"""`aas-gateway simulate --machine cnc:4841 ...`: simulated OPC UA machines (the simulators' own CLI)."""

from __future__ import annotations

import argparse

from gateway.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    s = sub.add_parser("simulate", help="start simulated OPC UA machines (see: aas-gateway simulate --help)",
                       add_help=False)
    s.add_argument("sim_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_simulate, pass_through=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.runner import main as sim_main

    return sim_main(args.sim_args)
