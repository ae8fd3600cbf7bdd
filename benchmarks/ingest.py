"""Ingest benchmark: gateway (OPC UA -> historian) vs a raw asyncua subscription client.

Both run, one after the other, against the same scale simulators (separate processes), for the same
duration at the same offered load. Each measured client runs in its own process so that its CPU time
is its own. Figures: values/s delivered (gateway: committed to SQLite, synchronous=full), CPU seconds
per 1,000 values, and their ratios. Results go to benchmarks/results/ingest.json.

    python benchmarks/ingest.py                     # 5,000 points x 2 Hz, 30 s per phase
    python benchmarks/ingest.py --points 10000 --rate 1 --seconds 60
    python benchmarks/ingest.py --security --points 2000 --seconds 20   # None vs Basic256Sha256 SignAndEncrypt

With --security the simulators offer both None and Basic256Sha256/SignAndEncrypt and four phases run
in the same run (raw None, raw secured, gateway None, gateway secured); the figure is the client CPU
per value secured / None for each, written to benchmarks/results/ingest_security.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from machine import machine_busy_seconds, wait_quiet  # benchmarks/machine.py
from machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
RESULTS_SECURITY = ROOT / "benchmarks" / "results" / "ingest_security.json"
SECURED = "Basic256Sha256/SignAndEncrypt"


def machine_info() -> dict[str, Any]:
    return _machine_info(packages=("aas-edge-gateway", "asyncua"))


def start_simulators(procs: int, per_proc: int, rate: float,
                     policies: tuple[str, ...] = ()) -> tuple[list[subprocess.Popen[str]], list[str]]:
    sims, endpoints = [], []
    extra = [a for pol in policies for a in ("--policy", pol)]
    for i in range(procs):
        p = subprocess.Popen([sys.executable, "-m", "simulators", "--json", "--seed", str(i), "--machine",
                              f"scale:0:n={per_proc},rate_hz={rate},name=SCALE{i:02d}", *extra],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None
        while True:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("simulator exited")
            msg = json.loads(line)
            if msg.get("ready"):
                break
            endpoints.append(msg["endpoint"])
        sims.append(p)
    return sims, endpoints


RAW_CLIENT = r'''
import asyncio, json, sys, time
from asyncua import Client, ua

endpoints, per_proc, warmup, seconds, security = json.loads(sys.argv[1])

class Handler:
    def __init__(self): self.n = 0
    def datachange_notification(self, node, val, data): self.n += 1
    def status_change_notification(self, status): pass

async def main():
    h = Handler()
    clients = []
    for ep in endpoints:
        c = Client(ep, timeout=30)
        if security:  # [certificate, key, application URI]: Basic256Sha256 SignAndEncrypt
            from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
            c.application_uri = security[2]
            await c.set_security(SecurityPolicyBasic256Sha256, security[0], security[1],
                                 mode=ua.MessageSecurityMode.SignAndEncrypt)
        await c.connect()
        ns = await c.get_namespace_index("urn:aas-gateway:sim:scale")
        nodes = [c.get_node(ua.NodeId(f"Vars.V{i:05d}", ns)) for i in range(per_proc)]
        sub = await c.create_subscription(500, h)
        for i in range(0, len(nodes), 1000):  # the simulator enforces MaxMonitoredItemsPerCall
            await sub.subscribe_data_change(nodes[i:i + 1000], queuesize=10, sampling_interval=0)
        clients.append(c)
    await asyncio.sleep(warmup)
    n0, t0, c0 = h.n, time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    n1, t1, c1 = h.n, time.monotonic(), time.process_time()
    print(json.dumps({"values": n1 - n0, "seconds": t1 - t0, "cpu_seconds": c1 - c0}), flush=True)
    for c in clients:
        await c.disconnect()

asyncio.run(main())
'''


def run_raw(endpoints: list[str], per_proc: int, warmup: float, seconds: float,
            security: list[str] | None = None) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", RAW_CLIENT,
                          json.dumps([endpoints, per_proc, warmup, seconds, security])],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["rate"] = r["values"] / r["seconds"]
    return r


def gateway_config(endpoints: list[str], per_proc: int, db: Path, secured: bool = False) -> dict[str, Any]:
    assets = []
    security = ({"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "trust_on_first_use": True} if secured
                else {"policy": "None", "mode": "None"})
    for i, ep in enumerate(endpoints):
        assets.append({
            "id_short": f"SCALE{i:02d}", "id": f"urn:bench:aas:{i}", "global_asset_id": f"urn:bench:asset:{i}",
            "source": {"endpoint": ep, "namespace": "urn:aas-gateway:sim:scale",
                       "security": security, "mode": "subscription",
                       "publishing_interval_ms": 500, "sampling_interval_ms": 0, "queue_size": 10},
            "points": [{"node": f"s=Vars.V{k:05d}", "path": f"Vars.V{k:05d}", "type": "xs:double"}
                       for k in range(per_proc)],
        })
    # the gateway as it runs for users: live AAS model and REST API included (on a free port)
    return {"historian": {"path": str(db)}, "logging": {"level": "WARNING"}, "api": {"port": 0},
            "pki": {"path": str(db.parent / "pki")}, "assets": assets}


def _max_seq(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT coalesce(max(seq), 0) FROM samples").fetchone()[0]


def run_gateway(endpoints: list[str], per_proc: int, warmup: float, seconds: float, tmp: Path,
                secured: bool = False) -> dict[str, Any]:
    db = tmp / "historian.sqlite"
    cfg = tmp / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(gateway_config(endpoints, per_proc, db, secured)))
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)])
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        while not (db.exists() and _max_seq(db) >= len(endpoints) * per_proc):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gateway did not start collecting")
            time.sleep(0.2)
        time.sleep(warmup)
        s0, t0, c0 = _max_seq(db), time.monotonic(), sum(ps.cpu_times()[:2])
        time.sleep(seconds)
        s1, t1, c1 = _max_seq(db), time.monotonic(), sum(ps.cpu_times()[:2])
    finally:
        proc.terminate()
        proc.wait(30)
    return {"values": s1 - s0, "seconds": t1 - t0, "cpu_seconds": c1 - c0, "rate": (s1 - s0) / (t1 - t0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2.0, help="changes per second per point")
    ap.add_argument("--sim-procs", type=int, default=2, help="simulator processes sharing the points")
    ap.add_argument("--seconds", type=float, default=30.0, help="measured time per phase")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--security", action="store_true",
                    help=f"compare {SECURED} with None (raw client and gateway, same run)")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to S s for an idle machine first")
    args = ap.parse_args()
    if args.security:
        return main_security(args)
    per_proc = args.points // args.sim_procs
    points = per_proc * args.sim_procs
    sims, endpoints = start_simulators(args.sim_procs, per_proc, args.rate)
    sim_ps = [psutil.Process(p.pid) for p in sims]
    try:
        print(f"offered load: {points} points x {args.rate:g} Hz = {points * args.rate:,.0f} values/s "
              f"from {args.sim_procs} simulator processes", flush=True)
        sim_c0 = sum(sum(p.cpu_times()[:2]) for p in sim_ps)
        raw = run_raw(endpoints, per_proc, args.warmup, args.seconds)
        print(f"raw asyncua client: {raw['rate']:,.0f} values/s, "
              f"{1000 * raw['cpu_seconds'] / max(raw['values'], 1):.3f} CPU s per 1k values", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            gw = run_gateway(endpoints, per_proc, args.warmup, args.seconds, Path(tmp))
        print(f"gateway -> historian: {gw['rate']:,.0f} values/s, "
              f"{1000 * gw['cpu_seconds'] / max(gw['values'], 1):.3f} CPU s per 1k values", flush=True)
        sim_cpu = sum(sum(p.cpu_times()[:2]) for p in sim_ps) - sim_c0
    finally:
        for p in sims:
            p.terminate()
        for p in sims:
            p.wait(30)
    ratio = gw["rate"] / raw["rate"] if raw["rate"] else 0.0
    cpu_ratio = ((gw["cpu_seconds"] / max(gw["values"], 1)) / (raw["cpu_seconds"] / max(raw["values"], 1))
                 if raw["values"] else 0.0)
    result = {
        "benchmark": "ingest", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "load": {"points": points, "rate_hz_per_point": args.rate, "offered_values_per_s": points * args.rate,
                 "simulator_processes": args.sim_procs, "seconds_per_phase": args.seconds},
        "raw_asyncua_client": raw, "gateway": gw,
        "ratio_rate_gateway_over_raw": round(ratio, 3),
        "ratio_cpu_per_value_gateway_over_raw": round(cpu_ratio, 3),
        "simulator_cpu_seconds_both_phases": round(sim_cpu, 2),
        "target": "gateway rate >= 0.8 x raw client at >= 5,000 points",
        "target_met": ratio >= 0.8 and points >= 5000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ratio gateway/raw: rate {ratio:.2f}, CPU per value {cpu_ratio:.2f}  ->  {args.out}")
    return 0


def _cpu_per_1k(r: dict[str, Any]) -> float:
    return 1000 * r["cpu_seconds"] / max(r["values"], 1)


def main_security(args: argparse.Namespace) -> int:
    """Four phases against the same simulators: raw and gateway, each with None and SignAndEncrypt."""
    sys.path.insert(0, str(ROOT))
    from connectors.opcua.pki import Pki, PkiConfig

    out = RESULTS_SECURITY if args.out == RESULTS else args.out
    per_proc = args.points // args.sim_procs
    points = per_proc * args.sim_procs
    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    sims, endpoints = start_simulators(args.sim_procs, per_proc, args.rate, ("None", SECURED))
    phases: dict[str, dict[str, Any]] = {}
    try:
        print(f"offered load: {points} points x {args.rate:g} Hz from {args.sim_procs} simulator processes; "
              f"None vs {SECURED}", flush=True)
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            client_pki = Pki(PkiConfig(path=Path(tmp) / "raw-pki", application_uri="urn:bench:raw-client"))
            cert, key = client_pki.ensure_own_certificate()
            raw_sec = [str(cert), str(key), client_pki.application_uri]
            for name, fn in (("raw_none", lambda: run_raw(endpoints, per_proc, args.warmup, args.seconds)),
                             ("raw_secured", lambda: run_raw(endpoints, per_proc, args.warmup, args.seconds, raw_sec)),
                             ("gateway_none", lambda: run_gateway(endpoints, per_proc, args.warmup, args.seconds,
                                                                  Path(tmp) / "none")),
                             ("gateway_secured", lambda: run_gateway(endpoints, per_proc, args.warmup, args.seconds,
                                                                     Path(tmp) / "secured", secured=True))):
                if name.startswith("gateway"):
                    (Path(tmp) / name.removeprefix("gateway_")).mkdir()
                phases[name] = fn()
                print(f"{name:<16} {phases[name]['rate']:>8,.0f} values/s  {_cpu_per_1k(phases[name]):.3f} "
                      "CPU s per 1k values", flush=True)
        busy = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
    finally:
        for p in sims:
            p.terminate()
        for p in sims:
            p.wait(30)
    raw_ratio = _cpu_per_1k(phases["raw_secured"]) / _cpu_per_1k(phases["raw_none"])
    gw_ratio = _cpu_per_1k(phases["gateway_secured"]) / _cpu_per_1k(phases["gateway_none"])
    result = {
        "benchmark": "ingest_security", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "machine_busy_cores_before": busy_before,
        "machine_busy_cores_during": round(busy, 2),
        "load": {"points": points, "rate_hz_per_point": args.rate, "offered_values_per_s": points * args.rate,
                 "simulator_processes": args.sim_procs, "seconds_per_phase": args.seconds,
                 "secured": SECURED, "user_identity": "anonymous"},
        "phases": {k: {**v, "cpu_s_per_1k_values": round(_cpu_per_1k(v), 4)} for k, v in phases.items()},
        "ratio_cpu_per_value_secured_over_none_raw": round(raw_ratio, 3),
        "ratio_cpu_per_value_secured_over_none_gateway": round(gw_ratio, 3),
        "target": "secured costs < 10% more client CPU per value than None (ratio < 1.10), like raw asyncua",
        "target_met": gw_ratio < 1.10,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"CPU per value secured/None: raw asyncua {raw_ratio:.3f}, gateway {gw_ratio:.3f}  ->  {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
