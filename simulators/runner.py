"""Command line and reusable async entry point to run several simulated machines in one process.

``python -m simulators --machine cnc:4841 --machine scale:0:n=5000,rate_hz=2 --json`` prints one
line per machine (endpoint, namespace) and then ``{"ready": true}``, so a parent process (the
gateway's tests, ``aas-gateway simulate|demo``) can read where to connect, and runs until
SIGINT/SIGTERM. All machines share one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulators.cnc import CncMachine
from simulators.energy import EnergyMeter
from simulators.faults import MENUS, random_plan, write_labels
from simulators.imm import ImmMachine
from simulators.scale import ScaleMachine
from simulators.security import ALL_SECURED
from simulators.server import MachineServer
from simulators.typezoo import TypeZoo

MACHINE_TYPES: dict[str, type[MachineServer]] = {
    "cnc": CncMachine,
    "imm": ImmMachine,
    "energy": EnergyMeter,
    "scale": ScaleMachine,
    "typezoo": TypeZoo,
}

# machine kwargs that may be given as key=val in a --machine spec, with their parsers
_OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "name": str, "n": int, "rate_hz": float, "seed": int, "tick_s": float, "auto_acknowledge_s": float,
}


@dataclass
class MachineSpec:
    type: str
    port: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> MachineSpec:
        """``TYPE[:PORT][:key=val,...]``, e.g. ``scale:0:n=5000,rate_hz=2,name=SCALE01``."""
        parts = text.split(":", 2)
        mtype = parts[0].strip().lower()
        if mtype not in MACHINE_TYPES:
            raise ValueError(f"unknown machine type {mtype!r} (known: {', '.join(MACHINE_TYPES)})")
        port = int(parts[1]) if len(parts) > 1 and parts[1] != "" else 0
        options: dict[str, Any] = {}
        if len(parts) > 2 and parts[2]:
            for pair in parts[2].split(","):
                key, sep, value = pair.partition("=")
                key = key.strip()
                if not sep or key not in _OPTION_TYPES:
                    raise ValueError(f"bad option {pair!r} in {text!r} (known: {', '.join(_OPTION_TYPES)})")
                options[key] = _OPTION_TYPES[key](value.strip())
        return cls(mtype, port, options)


def build_machines(
    specs: Sequence[MachineSpec | str], *, host: str = "127.0.0.1", seed: int = 0, tick_s: float = 0.1,
    **common: Any,
) -> list[MachineServer]:
    """Instantiate (not start) machines; machine i gets ``seed + i`` unless its spec sets a seed.

    ``common`` goes to every machine (e.g. ``security``, ``users``); ``pki_dir`` gets a per-machine
    subfolder, because each machine has its own certificate.
    """
    machines = []
    for i, spec in enumerate(specs):
        if isinstance(spec, str):
            spec = MachineSpec.parse(spec)
        kwargs: dict[str, Any] = {"host": host, "port": spec.port, "seed": seed + i, "tick_s": tick_s, **common}
        if common.get("pki_dir") is not None:
            kwargs["pki_dir"] = Path(common["pki_dir"]) / str(spec.options.get("name") or f"{spec.type}{i}")
        kwargs.update(spec.options)
        machines.append(MACHINE_TYPES[spec.type](**kwargs))
    return machines


def describe(machine: MachineServer) -> dict[str, Any]:
    d: dict[str, Any] = {"type": machine.machine_type, "name": machine.name, "endpoint": machine.endpoint,
                         "namespace": machine.namespace_uri}
    if machine.secured:
        d["security"] = list(machine.security)
        if machine.server_certificate is not None:
            d["certificate_sha1"] = hashlib.sha1(machine.server_certificate, usedforsecurity=False).hexdigest().upper()
    return d


async def run_machines(
    specs: Sequence[MachineSpec | str],
    *,
    host: str = "127.0.0.1",
    seed: int = 0,
    tick_s: float = 0.1,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[MachineServer]], None] | None = None,
    **common: Any,
) -> list[MachineServer]:
    """Start all machines concurrently, call ``on_ready``, run until ``stop`` is set, stop them.

    Without ``stop`` it runs until cancelled. Returns the (stopped) machines. ``common`` as in
    ``build_machines``.
    """
    machines = build_machines(specs, host=host, seed=seed, tick_s=tick_s, **common)
    results = await asyncio.gather(*(m.start() for m in machines), return_exceptions=True)
    try:
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if on_ready is not None:
            on_ready(machines)
        await (stop.wait() if stop is not None else asyncio.Future())
    finally:
        await asyncio.gather(*(m.stop() for m in machines), return_exceptions=True)
    return machines


def quiet_asyncua_logging() -> None:
    """asyncua logs every request at INFO; the simulators only want warnings and errors."""
    for name in ("asyncua", "asyncua.server", "asyncua.client"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "no signing/encrypting policy" at every start: true of a security-None simulator, and no news
    logging.getLogger("asyncua.server.server").setLevel(logging.ERROR)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulators", description="Run simulated OPC UA machines.")
    p.add_argument("--machine", action="append", required=True, metavar="TYPE[:PORT][:key=val,...]",
                   help=f"machine to run (types: {', '.join(MACHINE_TYPES)}); repeatable")
    p.add_argument("--seed", type=int, default=0, help="base seed (machine i uses seed+i)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--tick", type=float, default=0.1, help="update tick in seconds (default 0.1)")
    p.add_argument("--json", action="store_true", help="print JSON lines for machine-readable startup")
    flt = p.add_argument_group("labelled faults (simulators/faults.py)")
    flt.add_argument("--faults", type=int, metavar="SEED", default=None,
                     help="inject a random plan of labelled faults (every kind of the machine's type) from SEED")
    flt.add_argument("--labels", metavar="FILE", default="fault-labels.json",
                     help="with --faults: write the labels (start, end, kind, signal) here")
    flt.add_argument("--fault-warmup", type=float, default=600.0, metavar="S",
                     help="with --faults: clean seconds before the first fault")
    sec = p.add_argument_group("security (default: one endpoint with security None, anonymous)")
    sec.add_argument("--secure", action="store_true",
                     help="offer Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss with Sign and "
                          "SignAndEncrypt instead of None")
    sec.add_argument("--policy", action="append", metavar="POLICY/MODE", default=None,
                     help="offer only this endpoint, e.g. Basic256Sha256/SignAndEncrypt or None; repeatable")
    sec.add_argument("--allow-none", action="store_true", help="with --secure: also offer security None")
    sec.add_argument("--pki", metavar="DIR", default=None,
                     help="keep each machine's server certificate in DIR/<name>/ (reused by later runs; "
                          "default: a new one in memory per run)")
    sec.add_argument("--users", action="append", metavar="USER:PASSWORD", default=[],
                     help="accept this user name and password (then anonymous is refused); repeatable")
    sec.add_argument("--user-cert", action="append", metavar="FILE", default=[],
                     help="accept this X.509 user certificate (DER or PEM); repeatable")
    sec.add_argument("--allow-anonymous", action="store_true", help="accept anonymous users even with --users")
    return p


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """MachineServer keyword arguments from the security flags (ValueError for malformed ones)."""
    security: list[str] = list(args.policy or (ALL_SECURED if args.secure else ["None"]))
    if args.allow_none and "None" not in security:
        security.append("None")
    users = {}
    for u in args.users:
        name, sep, password = u.partition(":")
        if not sep or not name:
            raise ValueError(f"--users wants USER:PASSWORD, got {u!r}")
        users[name] = password
    opts: dict[str, Any] = {"security": security}
    if args.pki:
        opts["pki_dir"] = Path(args.pki)
    if users:
        opts["users"] = users
    if args.user_cert:
        opts["user_certificates"] = [Path(f) for f in args.user_cert]
    if args.allow_anonymous:
        opts["allow_anonymous"] = True
    return opts


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        specs = [MachineSpec.parse(s) for s in args.machine]
        common = security_options(args)
        build_machines(specs, **common)  # validates policy names before anything starts
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_asyncua_logging()

    def ready(machines: list[MachineServer]) -> None:
        if args.faults is not None:
            plans = []
            for i, m in enumerate(machines):
                if m.machine_type in MENUS:
                    m.faults = random_plan(m.machine_type, args.faults + i, 7 * 86400.0, warmup_s=args.fault_warmup,
                                           tick_s=m.tick_s)
                    plans.append((m.name, m.faults))
            # simulated time runs at wall-clock pace (it slows down only when the machine is overloaded)
            write_labels(args.labels, plans, datetime.now(UTC), {"seed": args.faults})
        for m in machines:
            if args.json:
                print(json.dumps(describe(m)))
            else:
                print(f"{m.machine_type:<7}{m.name:<10}{m.endpoint:<30}{m.namespace_uri}")
        if args.json:
            print(json.dumps({"ready": True}))
        sys.stdout.flush()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
        await run_machines(specs, host=args.host, seed=args.seed, tick_s=args.tick, stop=stop, on_ready=ready,
                           **common)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # signal arrived before the handlers were installed
        return 0
    except OSError as exc:  # e.g. port in use
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
