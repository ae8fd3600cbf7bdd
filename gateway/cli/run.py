"""`aas-gateway run -c FILE`: run the gateway in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse

from gateway.cli.common import EXIT_OK, EXIT_USAGE, Subparsers, add_config_option, add_log_options


def register(sub: Subparsers) -> None:
    r = sub.add_parser("run", help="run the gateway with a configuration file")
    add_config_option(r, "YAML configuration file", required=True)
    add_log_options(r)
    r.add_argument("--status-every", type=float, default=0.0, metavar="S",
                   help="print a status summary every S seconds")
    r.add_argument("--port", type=int, default=None, help="API port (overrides api.port; 0 picks a free one)")
    r.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.cli.common import load_config_or_report
    from gateway.logs import setup_logging
    from gateway.runner import run, with_api_port

    cfg = load_config_or_report(args.config)
    if cfg is None:
        return EXIT_USAGE
    setup_logging(args.log_level or cfg.logging.level, args.log_format or cfg.logging.format)
    if args.port is not None:
        cfg = with_api_port(cfg, args.port)
    run(cfg, args.status_every)
    return EXIT_OK
