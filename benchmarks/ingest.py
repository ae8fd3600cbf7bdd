"""Ingest benchmark: the gateway (OPC UA -> historian) vs a raw asyncua subscription client, on two stacks.

Servers: our asyncua scale simulators, and node-opcua (an independent OPC UA stack, the interop
tests' server tests/interop/nodeopcua/server.js, installed by scripts/install-test-peers), each in
separate processes. Clients, each in its own process so that its CPU time is its own:

* raw asyncua client: asyncua's subscription API with a handler that only counts, same points, same
  publishing interval (500 ms), sampling interval (0) and queue size (10): the strongest fair baseline;
* the gateway: `aas-gateway run`, every value coerced, committed to SQLite (synchronous=full) and
  written into the live AAS model its REST API serves.

Rounds alternate the order (raw first in odd rounds, the gateway first in even ones), so neither
always runs on a warmer or a busier machine. Headline per stack: client CPU per value, gateway / raw,
the median of the rounds' ratios (target <= 1.2). CPU = user + system time of the client process
from the start to the end of the measurement; peak RSS is sampled every 0.2 s during a phase.

* asyncua stack: the simulators change values continuously; a phase measures a time window after
  a warm-up (values delivered per second).
* node-opcua stack: the servers change values only when told to, so what they offered is known
  exactly: a warm-up burst, then a measured burst of rate x seconds ticks of every variable; the
  phase ends when everything offered arrived (or nothing more for 5 s). The gateway's
  stored/offered counts the committed rows of the measured burst alone (a variable's value is its
  tick number), so it is exact: no window edges, and duplicates would show (target >= 0.99).

    python benchmarks/ingest.py                          # both stacks, 5,000 points x 2 Hz, 3 rounds
    python benchmarks/ingest.py --stack nodeopcua --rounds 1 --seconds 10     # a quick look
    python benchmarks/ingest.py --points 10000 --rate 1 --out benchmarks/results/ingest-10k.json
    python benchmarks/ingest.py --security --points 2000 --seconds 20   # None vs Basic256Sha256 SignAndEncrypt

With --security the asyncua simulators offer both None and Basic256Sha256/SignAndEncrypt and four
phases run in the same run (raw None, raw secured, gateway None, gateway secured); the figure is the
client CPU per value secured / None for each, written to benchmarks/results/ingest_security.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import yaml
from machine import machine_busy_seconds, wait_quiet  # benchmarks/machine.py
from machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.nodeopcua_peer import NodeOpcuaServer  # noqa: E402  (the interop tests' server driver)

RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
RESULTS_SECURITY = ROOT / "benchmarks" / "results" / "ingest_security.json"
SECURED = "Basic256Sha256/SignAndEncrypt"
PUBLISHING_MS, SAMPLING_MS, QUEUE = 500, 0, 10
DRAIN_QUIET_S = 5.0  # a phase ends when nothing more arrived for this long


def code_version() -> dict[str, Any]:
    """Which code was measured: the commit, and whether the tree had changes on top of it."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "modified": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine_info() -> dict[str, Any]:
    info = _machine_info(packages=("aas-edge-gateway", "asyncua"))
    node = ROOT / ".peers" / "nodeopcua" / "node_modules"
    for pkg in ("node-opcua", "node"):
        manifest = node / pkg / "package.json"
        if manifest.exists():
            info["packages"][pkg] = json.loads(manifest.read_text())["version"]
    return info


# --- servers ----------------------------------------------------------------------------------


class Stack:
    """The OPC UA servers of one run: endpoints, the namespace and the node names per endpoint."""

    name = ""
    namespace = ""
    exact = False  # does it know exactly what it offered?

    def __init__(self, procs: int, per_proc: int, rate: float) -> None:
        self.procs, self.per_proc, self.rate = procs, per_proc, rate
        self.endpoints: list[str] = []

    def node_names(self) -> list[list[str]]:
        raise NotImplementedError

    def cpu_seconds(self) -> float:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class AsyncuaStack(Stack):
    """Our scale simulators: every variable changes `rate` times a second, spread evenly, from the start."""

    name = "asyncua"
    namespace = "urn:aas-gateway:sim:scale"

    def __init__(self, procs: int, per_proc: int, rate: float, policies: tuple[str, ...] = ()) -> None:
        super().__init__(procs, per_proc, rate)
        self.sims: list[subprocess.Popen[str]] = []
        extra = [a for pol in policies for a in ("--policy", pol)]
        for i in range(procs):
            p = subprocess.Popen([sys.executable, "-m", "simulators", "--json", "--seed", str(i), "--machine",
                                  f"scale:0:n={per_proc},rate_hz={rate},name=SCALE{i:02d}", *extra],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT)
            self.sims.append(p)
            assert p.stdout is not None
            while True:
                line = p.stdout.readline()
                if not line:
                    raise RuntimeError("simulator exited")
                msg = json.loads(line)
                if msg.get("ready"):
                    break
                self.endpoints.append(msg["endpoint"])
        self._ps = [psutil.Process(p.pid) for p in self.sims]

    def node_names(self) -> list[list[str]]:
        return [[f"Vars.V{k:05d}" for k in range(self.per_proc)] for _ in self.endpoints]

    def cpu_seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._ps)

    def stop(self) -> None:
        for p in self.sims:
            p.terminate()
        for p in self.sims:
            p.wait(30)


class NodeOpcuaStack(Stack):
    """node-opcua servers whose scale variables change in bursts the benchmark orders and counts."""

    name = "nodeopcua"
    namespace = "urn:aas-gateway:interop:nodeopcua"
    exact = True

    def __init__(self, procs: int, per_proc: int, rate: float, tmp: Path) -> None:
        super().__init__(procs, per_proc, rate)
        self.servers = [NodeOpcuaServer(tmp / f"nodeopcua-pki-{i}", counters=0, scale=per_proc, types=False,
                                        start_timeout=120).start() for i in range(procs)]
        self.endpoints = [s.endpoint for s in self.servers]
        self._ps = [psutil.Process(s.ready["pid"]) for s in self.servers]

    def node_names(self) -> list[list[str]]:
        return [[f"Scale.V{k:05d}" for k in range(self.per_proc)] for _ in self.endpoints]

    def cpu_seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._ps)

    def tick_values(self) -> list[int]:
        """Per server, the value every scale variable holds now (its tick count)."""
        return [int(s.counts()["values"]["scale"]) for s in self.servers]

    def burst(self, ticks: int) -> float:
        """Every variable of every server changes `ticks` times at the rate; returns the wall time it took."""
        t0 = time.monotonic()
        ids = [s.run("scale", ticks, self.rate) for s in self.servers]
        for s, run_id in zip(self.servers, ids, strict=True):
            s.wait_event("run-done", timeout=120 + 3 * ticks / self.rate, id=run_id)
        return time.monotonic() - t0

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


# --- measured clients ---------------------------------------------------------------------------


class Measured:
    """A client process: its CPU time, and its peak RSS sampled in the background."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample_rss, daemon=True).start()

    def _sample_rss(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)
            except psutil.Error:
                return

    def cpu(self) -> float:
        return float(sum(self.ps.cpu_times()[:2]))

    def count(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


RAW_CLIENT = r'''
import asyncio, json, sys, logging
logging.basicConfig(level=logging.WARNING)
from asyncua import Client, ua

# the first stdin line is the job (10,000 node names do not fit on a command line); then commands
endpoints, namespace, names, security, publishing, sampling, queue = json.loads(sys.stdin.readline())

class Handler:
    def __init__(self): self.n = 0
    def datachange_notification(self, node, val, data): self.n += 1
    def status_change_notification(self, status): pass

async def main():
    h = Handler()
    clients = []
    for ep, node_names in zip(endpoints, names):
        # a busy simulator takes long to create thousands of monitored items; and asyncua's watchdog gives its
        # ServerState probe at most watchdog_intervall s: the default 1 s drops the session on a loaded
        # machine (and, without auto-reconnect, for good), so probe every 10 s (one probe in 10 s, cheaper)
        c = Client(ep, timeout=120, watchdog_intervall=10.0)
        if security:  # [certificate, key, application URI]: Basic256Sha256 SignAndEncrypt
            from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
            c.application_uri = security[2]
            await c.set_security(SecurityPolicyBasic256Sha256, security[0], security[1],
                                 mode=ua.MessageSecurityMode.SignAndEncrypt)
        await c.connect()
        ns = await c.get_namespace_index(namespace)
        nodes = [c.get_node(ua.NodeId(n, ns)) for n in node_names]
        sub = await c.create_subscription(publishing, h)
        for i in range(0, len(nodes), 1000):  # the simulator enforces MaxMonitoredItemsPerCall
            await sub.subscribe_data_change(nodes[i:i + 1000], queuesize=queue, sampling_interval=sampling)
        clients.append(c)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while (line := await reader.readline()) and line.strip() != b"quit":
        print(json.dumps({"values": h.n}), flush=True)  # one count per request
    for c in clients:
        await c.disconnect()

asyncio.run(main())
'''


class RawClient(Measured):
    def __init__(self, stack: Stack, security: list[str] | None = None) -> None:
        arg = [stack.endpoints, stack.namespace, stack.node_names(), security, PUBLISHING_MS, SAMPLING_MS, QUEUE]
        proc = subprocess.Popen([sys.executable, "-c", RAW_CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        super().__init__(proc)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(arg) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            self.close()
            raise RuntimeError("raw client did not start")

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(json.loads(self.proc.stdout.readline())["values"])

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                pass  # gone already, or hanging: terminated below
        super().close()


def gateway_config(stack: Stack, db: Path, secured: bool = False) -> dict[str, Any]:
    assets = []
    security = ({"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "trust_on_first_use": True} if secured
                else {"policy": "None", "mode": "None"})
    for i, (ep, names) in enumerate(zip(stack.endpoints, stack.node_names(), strict=True)):
        assets.append({
            "id_short": f"SCALE{i:02d}", "id": f"urn:bench:aas:{i}", "global_asset_id": f"urn:bench:asset:{i}",
            "source": {"endpoint": ep, "namespace": stack.namespace, "security": security, "mode": "subscription",
                       "publishing_interval_ms": PUBLISHING_MS, "sampling_interval_ms": SAMPLING_MS,
                       "queue_size": QUEUE},
            "points": [{"node": f"s={n}", "path": n, "type": "xs:double"} for n in names],
        })
    # the gateway as it runs for users: live AAS model and REST API included (on a free port)
    return {"historian": {"path": str(db)}, "logging": {"level": "WARNING"}, "api": {"port": 0},
            "pki": {"path": str(db.parent / "pki")}, "assets": assets}


def _max_seq(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:  # the gateway is still creating the file
        return 0


class GatewayProcess(Measured):
    def __init__(self, stack: Stack, tmp: Path, secured: bool = False) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.db = tmp / "historian.sqlite"
        cfg = tmp / "gateway.yaml"
        cfg.write_text(yaml.safe_dump(gateway_config(stack, self.db, secured)))
        # its log goes to a file: how much it logs is a figure too (a gateway that logs every lost sample
        # writes ~100 MB in minutes, issue 9), and it must not flood the benchmark's own output
        self.log = tmp / "gateway.log"
        with self.log.open("w") as log:
            super().__init__(subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)], cwd=ROOT,
                                              text=True, stdout=log, stderr=subprocess.STDOUT))
        points = len(stack.endpoints) * stack.per_proc
        t0 = time.monotonic()
        try:
            # collecting = the initial value of every point committed; a gateway that drops samples never
            # gets there: after 90 s it is measured as it is (and its stored/offered says so)
            while not (self.db.exists() and _max_seq(self.db) >= points) and time.monotonic() - t0 < 90:
                if self.proc.poll() is not None:
                    raise RuntimeError("gateway exited")
                time.sleep(0.2)
        except BaseException:
            self.close()
            raise
        self.initial_rows = _max_seq(self.db) if self.db.exists() else 0
        if self.initial_rows < points:
            print(f"  gateway committed {self.initial_rows} of {points} initial values after 90 s", flush=True)

    def count(self) -> int:
        return _max_seq(self.db)

    def log_lines(self) -> int:
        with self.log.open("rb") as f:
            return sum(1 for _ in f)

    def stored_between(self, asset: str, low: float, high: float) -> tuple[int, int]:
        """Good rows of `asset` whose value is in (low, high]: (rows, distinct (point, value) pairs)."""
        sql = ("SELECT count(*), count(DISTINCT s.series || ':' || s.value) FROM samples s "
               "JOIN series r ON r.id = s.series WHERE r.asset = ? AND s.status = 0 AND s.value > ? AND s.value <= ?")
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            rows, distinct = conn.execute(sql, (asset, low, high)).fetchone()
        return int(rows), int(distinct)


# --- phases -------------------------------------------------------------------------------------


def drain(client: Measured, target: int | None) -> None:
    """Wait until `client` counted `target` values, or nothing more arrived for DRAIN_QUIET_S."""
    last, since = client.count(), time.monotonic()
    while target is None or last < target:
        time.sleep(0.25)
        n = client.count()
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > DRAIN_QUIET_S:
            return


def window_phase(client: Measured, stack: Stack, warmup: float, seconds: float) -> dict[str, Any]:
    """Continuous load: values counted over a time window after the warm-up."""
    time.sleep(warmup)
    v0, c0, s0, b0, t0 = client.count(), client.cpu(), stack.cpu_seconds(), machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    v1, c1, s1, b1, t1 = client.count(), client.cpu(), stack.cpu_seconds(), machine_busy_seconds(), time.monotonic()
    return _phase(v1 - v0, t1 - t0, c1 - c0, client, server_cpu=s1 - s0, busy=(b1 - b0) / (t1 - t0))


def burst_phase(client: Measured, stack: NodeOpcuaStack, warmup: float, seconds: float) -> dict[str, Any]:
    """Counted load: a warm-up burst, then a measured one; everything offered is waited for."""
    points = len(stack.endpoints) * stack.per_proc
    stack.burst(max(1, round(warmup * stack.rate)))
    drain(client, None)
    ticks = max(1, round(seconds * stack.rate))
    before = stack.tick_values()
    v0, c0, s0, b0, t0 = client.count(), client.cpu(), stack.cpu_seconds(), machine_busy_seconds(), time.monotonic()
    burst_s = stack.burst(ticks)
    drain(client, v0 + ticks * points)
    v1, c1, s1, b1, t1 = client.count(), client.cpu(), stack.cpu_seconds(), machine_busy_seconds(), time.monotonic()
    offered = ticks * points
    r = _phase(v1 - v0, burst_s, c1 - c0, client, server_cpu=s1 - s0, busy=(b1 - b0) / (t1 - t0))
    r.update(offered=offered, drain_s=round(t1 - t0 - burst_s, 2))
    if isinstance(client, GatewayProcess):
        # exact: committed good rows of the measured burst's values, per server
        stored = [client.stored_between(f"SCALE{i:02d}", lo, lo + ticks) for i, lo in enumerate(before)]
        r["stored"] = sum(n for n, _ in stored)
        r["duplicates"] = sum(n - d for n, d in stored)
        r["stored_over_offered"] = round(r["stored"] / offered, 5)
    else:
        r["received_over_offered"] = round(r["values"] / offered, 5)
    return r


def _phase(values: int, seconds: float, cpu: float, client: Measured, server_cpu: float,
           busy: float) -> dict[str, Any]:
    return {"values": values, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "rate": round(values / seconds, 1) if seconds else 0.0,
            "cpu_us_per_value": round(1e6 * cpu / max(values, 1), 3),
            "peak_rss_mb": round(client.peak_rss / 2**20, 1), "server_cpu_seconds": round(server_cpu, 2),
            "machine_busy_cores": round(busy, 2)}


def start_client(kind: str, stack: Stack, tmp: Path, attempts: int = 3) -> Measured:
    """The raw client or the gateway, connected and subscribed; retried on a busy machine."""
    for attempt in range(1, attempts + 1):
        try:
            return RawClient(stack) if kind == "raw" else GatewayProcess(stack, tmp / f"gw-{time.time_ns()}")
        except RuntimeError as e:
            if attempt == attempts:
                raise
            print(f"  {kind} did not start ({e}); again", flush=True)
    raise AssertionError("unreachable")


def measure(kind: str, stack: Stack, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    client = start_client(kind, stack, tmp)
    try:
        if isinstance(stack, NodeOpcuaStack):
            r = burst_phase(client, stack, args.warmup, args.seconds)
        else:
            r = window_phase(client, stack, args.warmup, args.seconds)
    finally:
        client.close()
    if isinstance(client, GatewayProcess):
        r["log_lines"] = client.log_lines()
        r["log_mb"] = round(client.log.stat().st_size / 2**20, 2)
        client.log.unlink()
    return r


def run_stack(stack: Stack, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rounds = []
    for i in range(args.rounds):
        order = ("raw", "gateway") if i % 2 == 0 else ("gateway", "raw")  # alternate: neither always first
        got: dict[str, Any] = {"order": list(order)}
        for kind in order:
            got[kind] = r = measure(kind, stack, args, tmp)
            extra = (f", stored/offered {r['stored_over_offered']:.4f}" if "stored_over_offered" in r else
                     f", received/offered {r['received_over_offered']:.4f}" if "received_over_offered" in r else "")
            print(f"  {stack.name} round {i + 1} {kind:<8} {r['rate']:>9,.0f} values/s  "
                  f"{r['cpu_us_per_value']:6.2f} µs CPU/value  peak RSS {r['peak_rss_mb']:.0f} MB  "
                  f"machine {r['machine_busy_cores']:.2f} cores{extra}", flush=True)
        got["ratio_cpu_per_value_gateway_over_raw"] = round(
            got["gateway"]["cpu_us_per_value"] / got["raw"]["cpu_us_per_value"], 3)
        got["ratio_rate_gateway_over_raw"] = round(got["gateway"]["rate"] / max(got["raw"]["rate"], 1e-9), 3)
        rounds.append(got)
    out: dict[str, Any] = {
        "server": ("asyncua scale simulators (continuous load, time window)" if stack.name == "asyncua" else
                   "node-opcua servers (counted bursts: every offered value waited for)"),
        "rounds": rounds,
        "median_ratio_cpu_per_value_gateway_over_raw": round(statistics.median(
            r["ratio_cpu_per_value_gateway_over_raw"] for r in rounds), 3),
        "median_ratio_rate_gateway_over_raw": round(statistics.median(
            r["ratio_rate_gateway_over_raw"] for r in rounds), 3),
        "gateway_peak_rss_mb": max(r["gateway"]["peak_rss_mb"] for r in rounds),
    }
    if stack.exact:
        out["gateway_stored_over_offered_min"] = min(r["gateway"]["stored_over_offered"] for r in rounds)
        out["raw_received_over_offered_min"] = min(r["raw"]["received_over_offered"] for r in rounds)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2.0, help="changes per second per point")
    ap.add_argument("--sim-procs", type=int, default=2, help="server processes sharing the points")
    ap.add_argument("--seconds", type=float, default=30.0, help="measured time per phase")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of raw + gateway, alternating the order")
    ap.add_argument("--stack", choices=("both", "asyncua", "nodeopcua"), default="both")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--security", action="store_true",
                    help=f"compare {SECURED} with None (raw client and gateway, same run; asyncua simulators)")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to S s for an idle machine first")
    args = ap.parse_args()
    if args.security:
        return main_security(args)
    per_proc = args.points // args.sim_procs
    points = per_proc * args.sim_procs
    stacks = ("asyncua", "nodeopcua") if args.stack == "both" else (args.stack,)
    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    print(f"offered load: {points} points x {args.rate:g} Hz = {points * args.rate:,.0f} values/s from "
          f"{args.sim_procs} server processes; {args.rounds} rounds per stack, alternating raw and gateway",
          flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for name in stacks:
            stack: Stack = (AsyncuaStack(args.sim_procs, per_proc, args.rate) if name == "asyncua"
                            else NodeOpcuaStack(args.sim_procs, per_proc, args.rate, tmp))
            try:
                results[name] = run_stack(stack, args, tmp)
            finally:
                stack.stop()
            print(f"{name}: CPU per value gateway/raw {results[name]['median_ratio_cpu_per_value_gateway_over_raw']}"
                  f" (median of {args.rounds})", flush=True)
    headline = {name: r["median_ratio_cpu_per_value_gateway_over_raw"] for name, r in results.items()}
    peak = max(r["gateway_peak_rss_mb"] for r in results.values())
    targets: dict[str, Any] = {"cpu_per_value_gateway_over_raw_le_1.2": all(v <= 1.2 for v in headline.values())}
    if "nodeopcua" in results:
        stored_min = results["nodeopcua"]["gateway_stored_over_offered_min"]
        targets["nodeopcua_stored_over_offered_ge_0.99"] = stored_min >= 0.99
    if points >= 10000:
        targets["gateway_peak_rss_lt_150_mb"] = peak < 150
    result = {
        "benchmark": "ingest", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(), "code": code_version(), "machine_busy_cores_before": busy_before,
        "load": {"points": points, "rate_hz_per_point": args.rate, "offered_values_per_s": points * args.rate,
                 "server_processes": args.sim_procs, "seconds_per_phase": args.seconds, "warmup_s": args.warmup,
                 "rounds": args.rounds, "publishing_interval_ms": PUBLISHING_MS,
                 "sampling_interval_ms": SAMPLING_MS, "queue_size": QUEUE},
        "headline_cpu_per_value_gateway_over_raw": headline,
        "gateway_peak_rss_mb": peak,
        "stacks": results,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"CPU per value gateway/raw: {headline}; gateway peak RSS {peak:.0f} MB  ->  {args.out}")
    return 0


# --- security: None vs SignAndEncrypt ------------------------------------------------------------


def run_raw(stack: Stack, warmup: float, seconds: float, security: list[str] | None = None) -> dict[str, Any]:
    client = RawClient(stack, security)
    try:
        return window_phase(client, stack, warmup, seconds)
    finally:
        client.close()


def run_gateway(stack: Stack, warmup: float, seconds: float, tmp: Path, secured: bool = False) -> dict[str, Any]:
    client = GatewayProcess(stack, tmp, secured)
    try:
        return window_phase(client, stack, warmup, seconds)
    finally:
        client.close()


def _cpu_per_1k(r: dict[str, Any]) -> float:
    return 1000 * r["cpu_seconds"] / max(r["values"], 1)


def main_security(args: argparse.Namespace) -> int:
    """Four phases against the same simulators: raw and gateway, each with None and SignAndEncrypt."""
    from connectors.opcua.pki import Pki, PkiConfig

    out = RESULTS_SECURITY if args.out == RESULTS else args.out
    per_proc = args.points // args.sim_procs
    points = per_proc * args.sim_procs
    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    stack = AsyncuaStack(args.sim_procs, per_proc, args.rate, ("None", SECURED))
    phases: dict[str, dict[str, Any]] = {}
    try:
        print(f"offered load: {points} points x {args.rate:g} Hz from {args.sim_procs} simulator processes; "
              f"None vs {SECURED}", flush=True)
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            client_pki = Pki(PkiConfig(path=tmp / "raw-pki", application_uri="urn:bench:raw-client"))
            cert, key = client_pki.ensure_own_certificate()
            raw_sec = [str(cert), str(key), client_pki.application_uri]
            runs: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
                ("raw_none", lambda: run_raw(stack, args.warmup, args.seconds)),
                ("raw_secured", lambda: run_raw(stack, args.warmup, args.seconds, raw_sec)),
                ("gateway_none", lambda: run_gateway(stack, args.warmup, args.seconds, tmp / "none")),
                ("gateway_secured", lambda: run_gateway(stack, args.warmup, args.seconds, tmp / "secured",
                                                        secured=True)))
            for name, fn in runs:
                phases[name] = fn()
                print(f"{name:<16} {phases[name]['rate']:>8,.0f} values/s  {_cpu_per_1k(phases[name]):.3f} "
                      "CPU s per 1k values", flush=True)
        busy = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
    finally:
        stack.stop()
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
