"""The `aas-gateway` command: run, check-config, simulate, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from gateway import __version__
from gateway.config import ConfigError, GatewayConfig, load_config, source_summary
from gateway.logs import setup_logging

log = logging.getLogger("gateway")

EXIT_CONFIG = 2


def _stop_event() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM, so Ctrl-C stops everything cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_gateway(cfg: GatewayConfig, stop: asyncio.Event, status_every_s: float = 0.0) -> None:
    from gateway.app import Gateway

    async with Gateway(cfg) as gw:
        if gw.api_url:
            print(f"AAS API (Part 2, read): {gw.api_url}   e.g. {gw.api_url}/shells", flush=True)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), status_every_s or None)
            except TimeoutError:
                c = gw.historian.counts()
                refused = (f"; {c.dead_lettered} refused (in its dead_letters table)" if c.dead_lettered else "") + (
                    f"; {c.lost} LOST" if c.lost else "")
                print(f"--- {c.committed} samples committed since start to {cfg.historian.path}{refused}",
                      flush=True)
                for line in gw.status_lines():
                    print("    " + line, flush=True)
        log.info("stopping...")


def cmd_run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(e.report(), file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level or cfg.logging.level, args.log_format or cfg.logging.format)
    if args.port is not None:
        cfg.api.port = args.port

    async def main() -> None:
        await run_gateway(cfg, _stop_event(), args.status_every)

    asyncio.run(main())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as e:
        print(e.report(), file=sys.stderr)
        print(f"{len(e.issues)} problem(s) found", file=sys.stderr)
        return EXIT_CONFIG
    points = sum(len(a.points) for a in cfg.assets)
    print(f"{args.file}: OK: {len(cfg.assets)} asset(s), {points} point(s)")
    for a in cfg.assets:
        print(f"  {a.id_short:<12} {source_summary(a.source)} points={len(a.points)}")
    for f in cfg.forwarders:
        print(f"  forwarder {f.name}: {f.sink.type} (start_from={f.start_from})")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.runner import main as sim_main

    return sim_main(args.sim_args)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    setup_logging(args.log_level, args.log_format)
    return run_demo(data_dir=Path(args.data_dir), duration_s=args.duration, seed=args.seed,
                    status_every_s=args.status_every, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aas-gateway", description="AAS edge gateway: OPC UA -> AAS, historian, API")
    p.add_argument("--version", action="version", version=f"aas-gateway {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the gateway with a configuration file")
    r.add_argument("-c", "--config", required=True, help="YAML configuration file")
    r.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    r.add_argument("--log-format", choices=["text", "json"])
    r.add_argument("--status-every", type=float, default=0.0, metavar="S",
                   help="print a status summary every S seconds")
    r.add_argument("--port", type=int, default=None, help="API port (overrides api.port; 0 picks a free one)")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check-config", help="validate a configuration file and report every problem")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)

    s = sub.add_parser("simulate", help="start simulated OPC UA machines (see: aas-gateway simulate --help)",
                       add_help=False)
    s.add_argument("sim_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_simulate)

    d = sub.add_parser("demo", help="start simulated machines and the gateway together, embedded historian")
    d.add_argument("--data-dir", default="demo-data", help="where the demo historian lives (default ./demo-data)")
    d.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--status-every", type=float, default=10.0, metavar="S")
    d.add_argument("--port", type=int, default=8080, help="AAS API port (default 8080; 0 picks a free one)")
    d.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    d.add_argument("--log-format", default="text", choices=["text", "json"])
    d.set_defaults(func=cmd_demo)

    from gateway.apikey_cli import add_parser as add_apikey
    from gateway.audit_cli import add_parser as add_audit
    from gateway.backup_cli import add_parser as add_backup
    from gateway.history_cli import add_parser as add_history
    from gateway.kpi.cli import add_parser as add_kpi
    from gateway.pki_cli import add_parser as add_pki
    from gateway.report_cli import add_parser as add_report
    from gateway.tls_cli import add_parser as add_tls

    add_history(sub)
    add_pki(sub)
    add_apikey(sub)
    add_audit(sub)
    add_tls(sub)
    add_kpi(sub)
    add_report(sub)
    add_backup(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `aas-gateway history ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
