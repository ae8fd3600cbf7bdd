"""Soak: the demo's gateway left running, then a machine outage of known length (issue 15 acceptance).

What it runs: the demo's configuration (`gateway/demo_config.yaml`: CNC and injection moulding
machine by subscription, the energy meter polled, all over SignAndEncrypt with the machines'
certificates trusted on first use, detection and KPIs on) against the demo's simulators, the
gateway as its own process (`aas-gateway run`, the way it runs on an edge server, `--port 0`
semantics: a free port, never 8080) with its own data directory. It is `aas-gateway demo`
taken apart into its processes, for one reason: the demo keeps all three machines in one
simulator process, and the outage below has to stop *one* machine and start it again on the same
port; so the meter EM01 runs in a simulator process of its own (same `--secure --pki` folder as
the demo, so it comes back with the same certificate). The gateway's config is the demo's with
two changes, both recorded in the JSON: the paths point into the soak's data directory, and EM01
retries its connection at most every second (`reconnect.max_delay_s: 1`; the default backoff
grows to 30 s, and the ledger can only see a machine back when the gateway has reconnected, so
the default would report the outage up to 30 s long: correct for the gateway, useless to measure
the ledger against a known length).

Phases:

1. **Warm-up** (10 % of the run, 30-300 s): the gateway connects, caches and the SQLite page cache
   fill, detectors collect their first windows. Nothing is judged.
2. **Steady** (the rest of `--minutes`): every `--sample-every` s the gateway's RSS and open file
   descriptors are read from /proc (psutil), and a reader does what a dashboard does (GET
   /health/ready and one submodel's `$value`, a new connection each time, so a leak per connection
   would show). Verdicts: RSS growth < 5 % (mean of the last minute's samples over the mean of the
   first minute's after warm-up: single samples jitter with the allocator), no fd growth (the
   fewest open in the last minute <= the fewest in the first: a leak raises the floor, while a
   connection being closed lifts single samples), and `aas-gateway report operation
   --format json` over the steady phase says availability 1.0 (100 %) for the gateway and every
   source, with no outage.
3. **Outage**: EM01's simulator process gets SIGINT (it stops its server, the gateway sees the
   connection close), is started again after `--outage-s` s on the same port, and the gateway
   reconnects. The *known length* is measured, not assumed: from the signal (the server stops
   accepting and closes its sessions within milliseconds of it) to the restarted simulator's
   "ready" line. The ledger, read after the gateway stopped, must report exactly one EM01 outage
   in that window, starting within [signal - 0.5 s, process exit + 1.5 s] and lasting the known
   length within `TOLERANCE_S` = 2 s: the gateway notices the closed connection at once, but it
   can only find the machine back on its next reconnect attempt (every <= 1 s, +/- 20 % jitter)
   followed by a SignAndEncrypt session handshake and subscription setup on a loaded 2-core box;
   1 s for the retry period + 1 s for the handshake bound what is not the ledger's error.

    python benchmarks/soak.py                      # 30 minutes, benchmarks/results/soak.json
    python benchmarks/soak.py --minutes 3 --out /tmp/soak.json     # a quick look

The load of the machine (1-minute load average and busy cores, sampled) goes into the JSON: the
machine this runs on is shared, and the figures are read with that in mind. Exit code 0 when every
verdict passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from machine import machine_busy_seconds  # benchmarks/machine.py
from machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
DEMO_CONFIG = ROOT / "gateway" / "demo_config.yaml"
NS = 1_000_000_000

RSS_GROWTH_MAX = 0.05
TOLERANCE_S = 2.0
OUTAGE_ASSET = "EM01"
# the demo's machine types, by the simulator namespace of each asset (as gateway/demo.py starts them)
_SIM_NS_PREFIX = "urn:aas-gateway:sim:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).isoformat().replace("+00:00", "Z")


def log(msg: str) -> None:
    print(f"[soak {datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def start_simulators(machines: list[str], pki: Path, seed: int,
                     out: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`python -m simulators --json --secure --pki PKI --machine ...`; returns the process and name -> endpoint."""
    args = [sys.executable, "-m", "simulators", "--json", "--seed", str(seed), "--secure", "--pki", str(pki)]
    for m in machines:
        args += ["--machine", m]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=open(out, "a"), text=True)
    assert proc.stdout is not None
    endpoints: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"simulators {machines} ended before they were ready (code {proc.wait()})")
        msg = json.loads(line)
        if msg.get("ready"):
            return proc, endpoints
        endpoints[msg["name"]] = msg["endpoint"]
    proc.kill()
    raise RuntimeError(f"simulators {machines} not ready in 120 s")


def stop_process(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGINT, timeout: float = 30) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def soak_config(data: Path, endpoints: dict[str, str], port: int) -> dict[str, Any]:
    """The demo's config with its paths in `data`, the simulators' endpoints, a free port, EM01's 1 s retry."""
    doc = yaml.safe_load(DEMO_CONFIG.read_text())
    doc["historian"]["path"] = str(data / "historian.sqlite")
    doc.setdefault("pki", {})["path"] = str(data / "pki")
    doc.setdefault("audit", {})["path"] = str(data / "audit" / "audit.jsonl")
    doc["api"]["port"] = port
    doc["api"].setdefault("auth", {})["anonymous_read"] = True  # loopback, as the demo
    for a in doc["assets"]:
        a["source"]["endpoint"] = endpoints[a["id_short"]]
        if a["id_short"] == OUTAGE_ASSET:
            a["source"]["reconnect"] = {"initial_delay_s": 0.5, "max_delay_s": 1.0}
    return doc


def machine_specs(doc: dict[str, Any]) -> dict[str, str]:
    """asset -> simulator spec (`energy:PORT:name=EM01`), as `aas-gateway demo` derives them."""
    return {a["id_short"]: f"{a['source']['namespace'].removeprefix(_SIM_NS_PREFIX)}:0:name={a['id_short']}"
            for a in doc["assets"]}


def report(data: Path, start_ns: int, end_ns: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "report", "operation", "--data-dir", str(data),
                          "--from", iso(start_ns), "--to", iso(end_ns), "--format", "json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"report operation failed ({out.returncode}): {out.stderr}")
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def totals(rep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["entity"]: r for r in rep["rows"] if r["period"] == "total"}


def ledger_states(data: Path, entity: str) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from gateway.ops.report import load_records

    return [r for r in load_records(data / "ledger" / "ledger.jsonl")
            if r.get("kind") == "state" and r.get("entity") == entity]


def wait_until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


class Sampler:
    """RSS, fds and the machine's load, every `every` s; and a reader's requests as a dashboard makes them."""

    def __init__(self, pid: int, port: int, every: float) -> None:
        self.proc = psutil.Process(pid)
        self.base = f"http://127.0.0.1:{port}"
        self.every = every
        self.samples: list[dict[str, Any]] = []
        self.request_errors = 0
        self.requests = 0
        self._busy = (time.monotonic(), machine_busy_seconds())

    def sample(self, t0: float) -> dict[str, Any]:
        mono = time.monotonic()
        busy = machine_busy_seconds()
        cores = (busy - self._busy[1]) / max(mono - self._busy[0], 1e-3)
        self._busy = (mono, busy)
        s = {"t_s": round(mono - t0, 1), "rss_mb": round(self.proc.memory_info().rss / 2**20, 2),
             "fds": self.proc.num_fds(), "threads": self.proc.num_threads(),
             "load1": round(os.getloadavg()[0], 2), "busy_cores": round(cores, 2)}
        self.samples.append(s)
        return s

    def read_like_a_dashboard(self, submodel_url: str) -> None:
        for url in ("/health/ready", submodel_url):
            self.requests += 1
            try:
                r = httpx.get(self.base + url, timeout=30)
                if r.status_code != 200:
                    self.request_errors += 1
            except httpx.HTTPError:
                self.request_errors += 1

    def run_for(self, seconds: float, t0: float, submodel_url: str) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.is_running() is False:
                raise RuntimeError("the gateway process ended during the soak")
            # sampled before the requests: a connection the reader just closed may still be open on the
            # gateway's side for a moment (an fd that comes and goes, not a leak)
            self.sample(t0)
            self.read_like_a_dashboard(submodel_url)
            time.sleep(max(0.0, min(self.every, end - time.monotonic())))


def window(samples: list[dict[str, Any]], t_from: float, t_to: float) -> list[dict[str, Any]]:
    return [s for s in samples if t_from <= s["t_s"] <= t_to]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="warm-up + steady phase (default 30)")
    ap.add_argument("--outage-s", type=float, default=20.0, help="how long the meter is off (default 20)")
    ap.add_argument("--sample-every", type=float, default=5.0, metavar="S", help="sampling period (default 5 s)")
    ap.add_argument("--warmup-s", type=float, default=None, metavar="S",
                    help="warm-up before the baseline (default: a third of the run, 30 s to 600 s)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the data directory (printed)")
    args = ap.parse_args()

    total_s = args.minutes * 60
    # the detectors' learning windows (up to 30 minutes of readings per signal in the demo) fill during the
    # first minutes: memory taken once, not a leak; a third of the run lets most of it settle before the
    # baseline (the committed 30-minute run used --warmup-s 180: +4.7 % over 27 minutes, flat for the last 9)
    warmup_s = args.warmup_s if args.warmup_s is not None else min(600.0, max(30.0, total_s / 3))
    judge_s = min(60.0, (total_s - warmup_s) / 3)  # the first and the last minute of the steady phase
    tmp = Path(tempfile.mkdtemp(prefix="aas-soak-"))
    data = tmp / "data"
    data.mkdir()
    sim_pki = data / "simulator-pki"
    logs = tmp / "logs"
    logs.mkdir()
    result: dict[str, Any] = {
        "benchmark": "soak", "started": iso(time.time_ns()),
        "machine": _machine_info(packages=("asyncua", "fastapi", "uvicorn")),
        "config": {"minutes": args.minutes, "warmup_s": warmup_s, "judge_window_s": judge_s,
                   "sample_every_s": args.sample_every, "outage_s": args.outage_s,
                   "gateway": "aas-gateway run -c <gateway/demo_config.yaml with paths in the soak's data "
                              "directory, a free port, EM01 reconnect.max_delay_s=1>",
                   "simulators": "python -m simulators --secure --pki DATA/simulator-pki (CNC01+IMM01 in one "
                                 "process, EM01 in its own)",
                   "rss_growth_max": RSS_GROWTH_MAX, "outage_tolerance_s": TOLERANCE_S},
    }
    demo = yaml.safe_load(DEMO_CONFIG.read_text())
    specs = machine_specs(demo)
    em_port = free_port()
    specs[OUTAGE_ASSET] = specs[OUTAGE_ASSET].replace(":0:", f":{em_port}:")
    sims: subprocess.Popen[str] | None = None
    meter: subprocess.Popen[str] | None = None
    gw: subprocess.Popen[bytes] | None = None
    verdicts: dict[str, bool] = {}
    t0, t_start_ns = time.monotonic(), time.time_ns()
    try:
        sims, endpoints = start_simulators([s for a, s in specs.items() if a != OUTAGE_ASSET], sim_pki, 1,
                                           logs / "simulators.log")
        meter, em = start_simulators([specs[OUTAGE_ASSET]], sim_pki, 3, logs / "meter.log")
        endpoints.update(em)
        port = free_port()
        cfg_path = tmp / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(soak_config(data, endpoints, port), sort_keys=False))
        gw = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg_path),
                               "--log-level", "WARNING"], cwd=ROOT,
                              stdout=open(logs / "gateway.log", "ab"), stderr=subprocess.STDOUT)
        t0, t_start_ns = time.monotonic(), time.time_ns()
        log(f"gateway pid {gw.pid} on port {port}, data {data}; warm-up {warmup_s:.0f} s")
        sampler = Sampler(gw.pid, port, args.sample_every)
        wait_until(lambda: all(ledger_states(data, f"source:{a}") for a in specs), 180, "every source connected")
        op = "urn:aas-gateway:demo:aas:IMM01:submodels:OperationalData"
        import base64

        submodel_url = ("/api/v3.0/submodels/" + base64.urlsafe_b64encode(op.encode()).decode().rstrip("=")
                        + "/$value")
        sampler.run_for(max(0.0, warmup_s - (time.monotonic() - t0)), t0, submodel_url)

        # --- steady ------------------------------------------------------------------------
        steady_from_ns, steady_from = time.time_ns(), time.monotonic() - t0
        log(f"steady phase: {total_s - warmup_s:.0f} s")
        sampler.run_for(total_s - warmup_s, t0, submodel_url)
        steady_to_ns, steady_to = time.time_ns(), time.monotonic() - t0
        first = window(sampler.samples, steady_from, steady_from + judge_s)
        last = window(sampler.samples, steady_to - judge_s, steady_to)
        rss0 = statistics.fmean(s["rss_mb"] for s in first)
        rss1 = statistics.fmean(s["rss_mb"] for s in last)
        fd0, fd1 = max(s["fds"] for s in first), max(s["fds"] for s in last)
        # a leak raises the floor: the fewest fds open in the last minute must not exceed the fewest in the
        # first. The maxima are reported but not judged: a transient fd (a dashboard's connection being
        # closed, a report's read connection) lifts single samples, and max-vs-max over 12 samples made
        # this verdict a coin toss (22/23 alternating for 30 minutes, CI failed once on 22 -> 23)
        fd_floor0, fd_floor1 = min(s["fds"] for s in first), min(s["fds"] for s in last)
        growth = rss1 / rss0 - 1
        steady_rep = report(data, steady_from_ns, steady_to_ns)
        tot = totals(steady_rep)
        avail = {e: r["availability"] for e, r in tot.items()}
        entities_ok = "gateway" in avail and all(f"source:{a}" in avail for a in specs)
        verdicts["rss_growth_below_5pct"] = growth < RSS_GROWTH_MAX
        verdicts["no_fd_growth"] = fd_floor1 <= fd_floor0
        verdicts["availability_100pct"] = entities_ok and all(v == 1.0 for v in avail.values())
        verdicts["no_outage_in_steady_phase"] = not steady_rep["outages"]
        result["steady"] = {
            "from": iso(steady_from_ns), "to": iso(steady_to_ns), "seconds": round(steady_to - steady_from, 1),
            "rss_mb_first_window_mean": round(rss0, 2), "rss_mb_last_window_mean": round(rss1, 2),
            "rss_growth": round(growth, 4), "rss_mb_min": min(s["rss_mb"] for s in sampler.samples),
            "rss_mb_max": max(s["rss_mb"] for s in sampler.samples),
            "fds_first_window_max": fd0, "fds_last_window_max": fd1,
            "fds_first_window_min": fd_floor0, "fds_last_window_min": fd_floor1,
            "threads_first_last": [first[0]["threads"], last[-1]["threads"]],
            "requests": sampler.requests, "request_errors": sampler.request_errors,
            "ledger_availability": avail, "ledger_outages": steady_rep["outages"],
            "ledger_completeness": {e: r["completeness"] for e, r in tot.items() if e.startswith("source:")},
        }
        log(f"steady: RSS {rss0:.1f} -> {rss1:.1f} MB ({growth:+.2%}), fds (fewest) {fd_floor0} -> {fd_floor1}, "
            f"availability {avail}")

        # --- outage ------------------------------------------------------------------------
        entity = f"source:{OUTAGE_ASSET}"
        n_states = len(ledger_states(data, entity))
        log(f"outage: stopping {OUTAGE_ASSET} for {args.outage_s:.0f} s")
        t_signal = time.time_ns()
        stop_process(meter)
        t_exit = time.time_ns()
        meter = None
        time.sleep(max(0.0, args.outage_s - (t_exit - t_signal) / NS))
        t_restart = time.time_ns()
        meter, _ = start_simulators([specs[OUTAGE_ASSET]], sim_pki, 3, logs / "meter.log")
        t_ready = time.time_ns()
        wait_until(lambda: len(ledger_states(data, entity)) >= n_states + 2, 120,
                   f"{OUTAGE_ASSET} down and up again in the ledger")
        sampler.run_for(10.0, t0, submodel_url)  # some connected time after it
        t_end = time.time_ns()  # the window ends before the gateway is told to stop: its stop is no outage
        gw_code = stop_process(gw, signal.SIGTERM, 120)
        gw = None
        known_s = (t_ready - t_signal) / NS
        out_rep = report(data, steady_to_ns, t_end)
        ours = [o for o in out_rep["outages"] if o["entity"] == entity]
        others = [o for o in out_rep["outages"] if o["entity"] != entity]
        verdicts["one_outage_reported"] = len(ours) == 1
        reported_s = ours[0]["seconds"] if ours else None
        # the report prints whole seconds; the ledger's state record has the instant to the microsecond
        down = next((r for r in ledger_states(data, entity)[n_states:] if r.get("state") != "connected"), None)
        down_ns = parse_ns(str(down["at"])) if down else None
        starts_ok = down_ns is not None and t_signal - NS // 2 <= down_ns <= t_exit + 3 * NS // 2
        verdicts["outage_starts_when_the_machine_stopped"] = starts_ok
        verdicts["outage_length_to_the_second"] = (reported_s is not None
                                                   and abs(reported_s - known_s) <= TOLERANCE_S)
        verdicts["no_other_outage"] = not others
        verdicts["gateway_stopped_cleanly"] = gw_code == 0
        result["outage"] = {
            "asset": OUTAGE_ASSET, "signal": iso(t_signal), "process_exit": iso(t_exit),
            "restart": iso(t_restart), "ready": iso(t_ready), "known_length_s": round(known_s, 3),
            "stop_took_s": round((t_exit - t_signal) / NS, 3), "start_took_s": round((t_ready - t_restart) / NS, 3),
            "reported": ours, "reported_length_s": reported_s,
            "ledger_down_at": iso(down_ns) if down_ns else None,
            "down_noticed_after_signal_s": None if down_ns is None else round((down_ns - t_signal) / NS, 3),
            "error_s": None if reported_s is None else round(reported_s - known_s, 3),
            "other_outages": others, "gateway_exit_code": gw_code,
        }
        log(f"outage: known {known_s:.3f} s, reported {reported_s} s")
        whole = report(data, t_start_ns, t_end)
        result["whole_run_ledger"] = {"availability": {e: r["availability"] for e, r in totals(whole).items()},
                                      "outages": whole["outages"]}
    except Exception as e:  # the verdicts say what ran; the error says why the rest did not
        result["error"] = f"{type(e).__name__}: {e}"
        log(f"ERROR {result['error']}")
    finally:
        stop_process(gw, signal.SIGTERM, 120)
        stop_process(meter)
        stop_process(sims)
    result["samples"] = sampler.samples if "sampler" in locals() else []
    result["duration_s"] = round(time.monotonic() - t0, 1)
    result["load1_mean"] = (round(statistics.fmean(s["load1"] for s in result["samples"]), 2)
                            if result["samples"] else None)
    result["busy_cores_mean"] = (round(statistics.fmean(s["busy_cores"] for s in result["samples"]), 2)
                                 if result["samples"] else None)
    result["verdicts"] = verdicts
    result["passed"] = bool(verdicts) and all(verdicts.values()) and "error" not in result
    result["data_dir"] = str(data) if args.keep else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"{'PASSED' if result['passed'] else 'FAILED'} {verdicts}; written to {args.out}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if result["passed"] else 1


def parse_ns(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


if __name__ == "__main__":
    sys.exit(main())
