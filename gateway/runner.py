"""Running the gateway in the foreground: start, status lines, stop on a signal, flush.

`aas-gateway run` and `aas-gateway demo` both end here, so Ctrl-C behaves the same in both: SIGINT
or SIGTERM sets one stop event, the gateway stops in reverse start order (API and sources first,
then the historian flushes and closes) and the command returns. Anything else that runs a gateway
in the foreground (a test, a benchmark) uses `run_gateway` with its own stop event.

`gateway.app` is imported when a gateway is started, not with this module: the CLI imports the
runner for every command's help text, and building a gateway pulls in asyncua, FastAPI and BaSyx.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.config import GatewayConfig

log = logging.getLogger("gateway")

Print = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def stop_event() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM (in the running loop), so Ctrl-C stops everything cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def status_report(gw: Gateway) -> list[str]:
    """The periodic status block: what the historian committed (and refused or lost), then one line per
    connection and per producer."""
    c = gw.historian.counts()
    refused = (f"; {c.dead_lettered} refused (in its dead_letters table)" if c.dead_lettered else "") + (
        f"; {c.lost} LOST" if c.lost else "")
    lines = [f"--- {c.committed} samples committed since start to {gw.cfg.historian.path}{refused}"]
    lines += ["    " + line for line in gw.status_lines()]
    return lines


async def run_gateway(cfg: GatewayConfig, stop: asyncio.Event, status_every_s: float = 0.0,
                      out: Print = _print) -> None:
    """Start a gateway for `cfg`, print its API URL, a status block every `status_every_s` (0: never),
    and stop it once `stop` is set."""
    from gateway.app import Gateway

    async with Gateway(cfg) as gw:
        if gw.api_url:
            out(f"AAS API (Part 2, read): {gw.api_url}   e.g. {gw.api_url}/shells")
            if gw.dashboard is not None and gw.api is not None:
                out(f"Dashboard: {gw.api.base_url}/")
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), status_every_s or None)
            except TimeoutError:
                for line in status_report(gw):
                    out(line)
        log.info("stopping...")


def with_api_port(cfg: GatewayConfig, port: int) -> GatewayConfig:
    """`cfg` serving its API on `port` (`--port`), as a new config: a validated config is never changed in place."""
    return cfg.with_overrides({"api.port": port})


def run(cfg: GatewayConfig, status_every_s: float = 0.0) -> None:
    """Run a gateway in the foreground until SIGINT/SIGTERM (the `run` command)."""

    async def main() -> None:
        await run_gateway(cfg, stop_event(), status_every_s)

    asyncio.run(main())
