"""The `aas-gateway` command line: one module per command, registered in `COMMANDS`.

Adding a command (e.g. `backup`):

1. write `gateway/cli/backup.py` with a `register(sub)` function that adds its parser to the
   subparsers object and sets `func` to a handler `(args) -> int`; shared flags, exit codes and the
   config/path helpers are in `gateway.cli.common` and `gateway.cli.paths`;
2. add `"backup"` to `COMMANDS` below (the order is the order of `aas-gateway --help`);
3. add a row to the README's commands table.

A command module imports only the standard library and `gateway.cli.*` at its top; whatever its
handler needs (asyncua, FastAPI, the historian, cryptography) is imported inside the handler. Every
module is imported to build `--help`, and `aas-gateway --help`, `check-config`, `history`, `apikey`,
`audit`, `tls` and `kpi` must start in well under a second (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module names in gateway/cli/, in the order --help lists them
COMMANDS = ("run", "check_config", "simulate", "demo", "history", "kpi", "report", "apikey", "pki", "audit", "tls",
            "backup")


class _VersionAction(argparse.Action):
    """`--version`, reading the package metadata only when asked (it costs about 0.1 s)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from gateway import version

        print(f"aas-gateway {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aas-gateway",
                                description="AAS edge gateway: OPC UA -> AAS, historian, API")
    p.add_argument("--version", action=_VersionAction)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"gateway.cli.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # a command that hands its arguments on (`simulate`) sets `pass_through`; argparse's REMAINDER
    # cannot take arguments that start with "-" (`simulate --machine ...`), so they arrive as extras
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "pass_through", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.sim_args = [*args.sim_args, *extra]
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `aas-gateway history ... | head`
        sys.stderr.close()
        return 0
