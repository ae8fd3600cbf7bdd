"""`aas-gateway demo`: simulated machines and the gateway together, nothing else needed.

The simulators run in a child process (as real machines would be separate),
on loopback ports they pick themselves; the gateway uses the example config
(deploy/example-config.yaml) with its endpoints pointed at those ports and
the embedded historian under --data-dir. The demo derives its config from the
loaded one (new models, the loaded config is never changed) and runs it with
`gateway.runner`, like `aas-gateway run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import sys
from pathlib import Path

from connectors.opcua.config import OpcUaSourceConfig
from gateway.auth.apikeys import default_keys_file
from gateway.cli.paths import in_data_dir
from gateway.config import GatewayConfig, load_config
from gateway.runner import run_gateway, stop_event, with_api_port

log = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).with_name("demo_config.yaml")
_SIM_NS_PREFIX = "urn:aas-gateway:sim:"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def demo_config(data_dir: Path) -> GatewayConfig:
    """The demo's config: everything it keeps (historian, the gateway's PKI, audit log, API keys) under
    `data_dir`, in the layout `gateway.cli.paths` describes, so the printed commands find it all."""
    cfg = load_config(DEMO_CONFIG)
    files = in_data_dir(data_dir.resolve())
    # one command to try it: reading needs no key on loopback (printed at start); writes and /admin still do
    return cfg.with_overrides({"historian.path": files.historian, "pki.path": files.pki, "audit.path": files.audit,
                               "api.auth.anonymous_read": _loopback(cfg.api.host)})


def with_endpoints(cfg: GatewayConfig, endpoints: dict[str, str]) -> GatewayConfig:
    """`cfg` with each OPC UA asset's endpoint replaced by the one its simulator reported."""
    return cfg.with_overrides({f"assets[{i}].source.endpoint": endpoints[a.id_short]
                               for i, a in enumerate(cfg.assets) if isinstance(a.source, OpcUaSourceConfig)})


async def start_simulators(cfg: GatewayConfig, seed: int,
                           pki_dir: Path | None = None) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start one simulator per asset (type from its namespace URI); returns the process and endpoints.

    With `pki_dir` the machines offer only secured endpoints (all three policies, Sign and
    SignAndEncrypt) and keep their server certificates there, so a certificate the gateway trusted
    on first use is the same at the next start.
    """
    args = [sys.executable, "-m", "simulators", "--json", "--seed", str(seed)]
    if pki_dir is not None:
        args += ["--secure", "--pki", str(pki_dir)]
    for a in cfg.assets:
        assert isinstance(a.source, OpcUaSourceConfig), "the demo config has OPC UA machines only"
        ns = a.source.namespace or ""
        if not ns.startswith(_SIM_NS_PREFIX):
            raise ValueError(f"asset {a.id_short}: namespace {ns!r} is not a simulator namespace")
        args += ["--machine", f"{ns.removeprefix(_SIM_NS_PREFIX)}:0:name={a.id_short}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    endpoints: dict[str, str] = {}
    async with asyncio.timeout(60):
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"simulators exited early (code {await proc.wait()})")
            msg = json.loads(line)
            if msg.get("ready"):
                break
            endpoints[msg["name"]] = msg["endpoint"]
    return proc, endpoints


def _security(src: OpcUaSourceConfig) -> str:
    sec = src.security
    if isinstance(sec, str):
        return sec
    text = f"{sec.policy}/{sec.mode}"
    return text + (" (server certificate trusted on first use)" if sec.trust_on_first_use else "")


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Stop the simulators' process: SIGINT first (they stop their servers cleanly), SIGKILL after 10 s."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(2)  # SIGINT: the simulators stop their servers cleanly
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def demo_main(data_dir: Path, duration_s: float | None, seed: int, status_every_s: float,
                    port: int = 8080) -> None:
    stop = stop_event()
    cfg = with_api_port(demo_config(data_dir), port)
    proc, endpoints = await start_simulators(cfg, seed, cfg.historian.path.parent / "simulator-pki")
    try:
        cfg = with_endpoints(cfg, endpoints)
        sources = {a.id_short: a.source for a in cfg.assets if isinstance(a.source, OpcUaSourceConfig)}
        print("AAS edge gateway demo (embedded historian, no external services)", flush=True)
        print("  simulated machines (OPC UA on loopback, secured endpoints only):", flush=True)
        for a in cfg.assets:
            src = sources[a.id_short]
            print(f"    {a.id_short:<8} {src.namespace or '':<28} {src.endpoint}  "
                  f"mode={src.mode} points={len(a.points)} security={_security(src)}", flush=True)
        print(f"  gateway PKI (own certificate, trusted and rejected servers): {cfg.pki.path}\n"
              f"    aas-gateway pki --pki-dir {cfg.pki.path} list", flush=True)
        print(f"  historian (SQLite, WAL): {cfg.historian.path}", flush=True)
        print(f"  audit log (writes, admin actions, pki changes): {cfg.audit.path}", flush=True)
        if cfg.api.auth.anonymous_read:
            keys = cfg.api.auth.api_keys_file or default_keys_file(cfg.historian.path)
            print("  REST API: anonymous read is on (loopback demo); writes and /admin need an API key:\n"
                  f"    aas-gateway apikey --keys-file {keys} create --role admin --name me", flush=True)
        print(f"  config: {DEMO_CONFIG.resolve()}", flush=True)
        print("  press Ctrl-C to stop" + (f" (stopping by itself after {duration_s:g} s)" if duration_s else ""),
              flush=True)
        if duration_s:
            asyncio.get_running_loop().call_later(duration_s, stop.set)
        await run_gateway(cfg, stop, status_every_s)
    finally:
        await stop_process(proc)
    print("demo stopped; historian flushed", flush=True)


def run_demo(data_dir: Path, duration_s: float | None, seed: int, status_every_s: float, port: int = 8080) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(demo_main(data_dir, duration_s, seed, status_every_s, port))
    return 0
