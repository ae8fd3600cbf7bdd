"""What detection costs the gateway: 1,000 signals x 1 Hz, detection on vs off, alternating rounds.

Ten scale simulators of 100 variables each (one process) feed the gateway over OPC UA at 1 Hz per
variable (1,000 values/s). The gateway runs as its own process (`aas-gateway run`), historian and
REST API included, once without a `detection:` section and once watching every signal (preset
`steady`: every check on), with one multivariate detector per asset over 20 of its signals. The
detection rounds restore the learned state of a first, unmeasured learning round, so they measure
detectors that judge (the steady state), not ones still learning.

Figures: gateway CPU as a share of one core over the measured window, and resident memory (RSS)
at its end; the cost of detection is on minus off, the rounds alternate (off, on, off, on ...) so
slow drifts of the shared machine hit both. Results: benchmarks/results/detect_cost.json.

    python benchmarks/detect_cost.py                 # 3 rounds each, 60 s measured per round
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from machine import machine_info, wait_quiet  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detect_cost.json"
MACHINES = 10
PER_MACHINE = 100


def start_simulators() -> tuple[subprocess.Popen[str], list[str]]:
    args = [sys.executable, "-m", "simulators", "--json", "--seed", "1"]
    for i in range(MACHINES):
        args += ["--machine", f"scale:0:n={PER_MACHINE},rate_hz=1,name=SCALE{i:02d}"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stdout is not None
    endpoints: list[str] = []
    while True:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("simulators exited")
        msg = json.loads(line)
        if msg.get("ready"):
            return p, endpoints
        endpoints.append(msg["endpoint"])


def config(endpoints: list[str], db: Path, detection: bool) -> dict[str, Any]:
    assets: list[dict[str, Any]] = [{
        "id_short": f"SCALE{i:02d}", "id": f"urn:bench:aas:{i}", "global_asset_id": f"urn:bench:asset:{i}",
        "source": {"endpoint": ep, "namespace": "urn:aas-gateway:sim:scale", "security": {"policy": "None",
                                                                                          "mode": "None"},
                   "mode": "subscription", "publishing_interval_ms": 500, "sampling_interval_ms": 0},
        "points": [{"node": f"s=Vars.V{k:05d}", "path": f"Vars.V{k:05d}", "type": "xs:double"}
                   for k in range(PER_MACHINE)],
    } for i, ep in enumerate(endpoints)]
    cfg: dict[str, Any] = {"historian": {"path": str(db)}, "logging": {"level": "WARNING"}, "api": {"port": 0},
                           "pki": {"path": str(db.parent / "pki")}, "assets": assets}
    if detection:
        cfg["detection"] = {"save_interval_s": 3600, "assets": [{
            "asset": a["id_short"],
            "signals": [{"point": p["path"]} for p in a["points"]],
            "multivariate": {"signals": [p["path"] for p in a["points"][:20]]},
        } for a in assets]}
    return cfg


def _max_seq(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM samples").fetchone()[0])


def run_round(endpoints: list[str], tmp: Path, detection: bool, warmup: float, seconds: float) -> dict[str, Any]:
    db = tmp / ("on" if detection else "off") / "historian.sqlite"
    db.parent.mkdir(exist_ok=True)
    cfg = db.parent / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(config(endpoints, db, detection)))
    quiet = wait_quiet(30.0)
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)], cwd=ROOT)
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 180
        while not (db.exists() and _max_seq(db) >= MACHINES * PER_MACHINE):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gateway did not start collecting")
            time.sleep(0.2)
        time.sleep(warmup)
        s0, t0, c0 = _max_seq(db), time.monotonic(), sum(ps.cpu_times()[:2])
        time.sleep(seconds)
        s1, t1, c1 = _max_seq(db), time.monotonic(), sum(ps.cpu_times()[:2])
        rss = ps.memory_info().rss
    finally:
        proc.terminate()  # SIGTERM: the gateway stops cleanly, the detectors save their state
        proc.wait(60)
    return {"detection": detection, "cpu_share_of_one_core": round((c1 - c0) / (t1 - t0), 4),
            "rss_mb": round(rss / 2**20, 1), "samples_per_s": round((s1 - s0) / (t1 - t0), 1),
            "machine_busy_cores_before": quiet}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured per round")
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--learn", type=float, default=150.0, help="the unmeasured learning round (s)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    sim, endpoints = start_simulators()
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            print(f"learning round ({args.learn:g} s, not measured)", file=sys.stderr, flush=True)
            run_round(endpoints, tmp, True, args.learn, 1.0)
            for i in range(args.rounds):
                for detection in (False, True):
                    r = run_round(endpoints, tmp, detection, args.warmup, args.seconds)
                    print(f"round {i + 1} detection={'on' if detection else 'off'}: {r}", file=sys.stderr,
                          flush=True)
                    rounds.append(r)
    finally:
        sim.terminate()
        sim.wait(30)
    off = [r for r in rounds if not r["detection"]]
    on = [r for r in rounds if r["detection"]]
    med = statistics.median
    cpu_cost = med(r["cpu_share_of_one_core"] for r in on) - med(r["cpu_share_of_one_core"] for r in off)
    mem_cost = med(r["rss_mb"] for r in on) - med(r["rss_mb"] for r in off)
    result = {
        "benchmark": "detect_cost", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(packages=("aas-edge-gateway", "asyncua", "numpy")),
        "load": {"signals": MACHINES * PER_MACHINE, "rate_hz": 1.0, "assets": MACHINES,
                 "multivariate_signals_per_asset": 20, "preset": "steady"},
        "rounds": rounds,
        "detection_cpu_share_of_one_core": round(cpu_cost, 4),
        "detection_rss_mb": round(mem_cost, 1),
        "targets": {"cpu_share_of_one_core": 0.10, "rss_mb": 100},
        "met": cpu_cost < 0.10 and mem_cost < 100,
    }
    text = json.dumps(result, indent=1)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
