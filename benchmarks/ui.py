"""Dashboard cost and speed (issue 13): server CPU with 50 live streams during ingest, overview and trend times.

Setup, all real processes on loopback: a `scale` simulator (asyncua) with 1,000 Doubles at 1 Hz; a gateway
(`aas-gateway run`) with 50 assets of 20 points each reading it by subscription (1,000 values/s
ingest); its historian pre-filled with 7 days of one point at 1 Hz (604,800 samples).

* CPU: the gateway process's CPU time over WINDOW_S with no dashboard open vs with 50 open dashboards
  (50 Server-Sent Events streams: 25 on the overview, 25 on asset pages, each a different asset),
  alternating rounds; reported as fractions of one core, the difference is what the dashboards cost.
* Overview: `GET /ui/api/overview` (50 assets, their KPIs, alarms and the gateway strip), and the
  time Chromium takes from navigation to the 50 asset cards on screen with their connection state.
* Trend: the history route for the 7-day point, bucketed into 600 min/max/avg buckets (as the
  dashboard asks for it).

    python benchmarks/ui.py                  # 3 rounds of 20 s each way
    python benchmarks/ui.py --rounds 2 --window 10

Results: benchmarks/results/ui.json. The machine's load during the run is recorded: the figures are
preliminary where other work shared the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine_info  # noqa: E402  (benchmarks/machine.py)

from connectors.sample import Sample  # noqa: E402
from gateway.config import HistorianSettings  # noqa: E402
from gateway.historian import Historian  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ui.json"
ASSETS, POINTS = 50, 20
HISTORY_POINT = "A00/OperationalData/Vars.V00000"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def b64url(s: str) -> str:
    import base64

    return base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()


async def prefill(db: Path, days: float) -> int:
    """One point at 1 Hz for `days`, ending a minute ago, written through the historian itself."""
    h = Historian(HistorianSettings(path=db, synchronous="normal"))
    await h.open()
    await h.register_series(HISTORY_POINT, "xs:double", None)
    end = time.time_ns() - 60 * 10**9
    n = int(days * 86400)
    start = end - n * 10**9
    batch: list[Sample] = []
    for i in range(n):
        ts = start + i * 10**9
        batch.append(Sample(HISTORY_POINT, 50.0 + 10.0 * ((i % 3600) / 3600.0), ts, ts, ts, 0))
        if len(batch) == 20_000:
            await h.append(batch)
            batch = []
    if batch:
        await h.append(batch)
    await h.close()
    return n


def config(tmp: Path, endpoint: str, port: int) -> Path:
    assets = []
    for a in range(ASSETS):
        points = "\n".join(f"      - {{node: s=Vars.V{a * POINTS + j:05d}, path: Vars.V{a * POINTS + j:05d}, "
                           f"type: xs:double, unit: Cel}}" for j in range(POINTS))
        assets.append(f"""  - id_short: A{a:02d}
    id: urn:bench:aas:A{a:02d}
    global_asset_id: urn:bench:asset:A{a:02d}
    source:
      type: opcua
      endpoint: {endpoint}
      namespace: urn:aas-gateway:sim:scale
      security: {{policy: None, mode: None}}
      mode: subscription
      publishing_interval_ms: 500
      sampling_interval_ms: 250
    points:
{points}""")
    text = f"""gateway: {{name: ui-bench}}
logging: {{level: WARNING}}
api:
  host: 127.0.0.1
  port: {port}
  limits: {{max_connections: 500}}
historian:
  path: {tmp}/data/historian.sqlite
  synchronous: normal
assets:
""" + "\n".join(assets) + "\n"
    path = tmp / "config.yaml"
    path.write_text(text)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def streams(base: str, key: str, n: int, stop: asyncio.Event, counts: list[int]) -> None:
    async def one(i: int) -> None:
        view = "overview" if i % 2 == 0 else f"asset:A{i % ASSETS:02d}"
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=None) as http:
            async with http.stream("GET", "/ui/api/stream", params={"view": view}) as r:
                async for chunk in r.aiter_bytes():
                    counts[i] += chunk.count(b"\n\n")
                    if stop.is_set():
                        return

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def cpu_round(proc: psutil.Process, base: str, key: str, n_streams: int, window: float) -> dict[str, Any]:
    stop = asyncio.Event()
    counts = [0] * n_streams
    task = asyncio.create_task(streams(base, key, n_streams, stop, counts)) if n_streams else None
    await asyncio.sleep(3 if n_streams else 1)  # streams open and past their snapshot
    c0, t0, l0 = sum(proc.cpu_times()[:2]), time.monotonic(), os.getloadavg()[0]
    e0 = sum(counts)
    await asyncio.sleep(window)
    c1, t1 = sum(proc.cpu_times()[:2]), time.monotonic()
    events = sum(counts) - e0
    stop.set()
    if task is not None:
        await task
    return {"streams": n_streams, "cores": (c1 - c0) / (t1 - t0), "events_per_s": events / (t1 - t0),
            "loadavg_1m": l0}


async def timed(http: httpx.AsyncClient, url: str, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await http.get(url)
        times.append(time.perf_counter() - t0)
        r.raise_for_status()
    times.sort()
    return {"median_ms": statistics.median(times) * 1000, "p95_ms": times[int(0.95 * (n - 1))] * 1000,
            "bytes": len(r.content), "n": n}


def browser_overview(base: str, key: str, n: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.goto(f"{base}/#/signin")
        page.fill("#apikey", key)
        page.click("form.signin-form button[type=submit]")
        page.wait_for_selector(".asset-card")
        for _ in range(n):
            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(f"{base}/#/")
            page.wait_for_function(f"() => document.querySelectorAll('.asset-card .conn .chip').length === {ASSETS}",
                                   polling="raf")
            times.append(time.perf_counter() - t0)
        b.close()
    return {"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000, "n": n}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    (tmp / "data").mkdir()
    t0 = time.monotonic()
    rows = await prefill(tmp / "data" / "historian.sqlite", args.days)
    prefill_s = time.monotonic() - t0
    # setup before anything is measured: blocking the loop here costs nothing
    sim = subprocess.Popen([sys.executable, "-m", "simulators", "--json", "--machine",  # noqa: ASYNC220
                            f"scale:0:n={ASSETS * POINTS},rate_hz=1"], stdout=subprocess.PIPE, text=True)
    gw: subprocess.Popen[str] | None = None
    try:
        assert sim.stdout is not None
        endpoint = None
        for line in sim.stdout:
            msg = json.loads(line)
            if msg.get("endpoint"):
                endpoint = msg["endpoint"]
            if msg.get("ready"):
                break
        assert endpoint
        port = free_port()
        cfg = config(tmp, endpoint, port)
        exe = shutil.which("aas-gateway") or "aas-gateway"
        out = subprocess.run([exe, "apikey", "-c", str(cfg), "create", "--role", "reader",  # noqa: ASYNC221
                              "--name", "bench"], capture_output=True, text=True, check=True).stdout
        key = re.search(r"agw_[A-Za-z0-9]+_[A-Za-z0-9_-]+", out).group(0)  # type: ignore[union-attr]
        err = (tmp / "gateway.err").open("w")
        gw = subprocess.Popen([exe, "run", "-c", str(cfg), "--log-level", "WARNING"],  # noqa: ASYNC220
                              stdout=subprocess.DEVNULL, stderr=err, text=True)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    ov = (await http.get("/ui/api/overview")).json()
                    if ov["strip"]["sources"]["connected"] == ASSETS:
                        break
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                if time.monotonic() > deadline or gw.poll() is not None:
                    raise RuntimeError("the gateway did not connect its 50 sources: "
                                       + (tmp / "gateway.err").read_text())
                await asyncio.sleep(1)
            await asyncio.sleep(5)  # past the connect burst
            proc = psutil.Process(gw.pid)
            rounds = []
            for r in range(args.rounds):
                for n in (0, 50):
                    res = await cpu_round(proc, base, key, n, args.window)
                    res["round"] = r
                    rounds.append(res)
                    print(f"round {r} streams {n:2d}: {res['cores']:.3f} cores, {res['events_per_s']:.0f} events/s, "
                          f"load {res['loadavg_1m']:.2f}", flush=True)
            ingest = (await http.get("/metrics")).text
            overview = await timed(http, "/ui/api/overview", args.requests)
            end = time.time()
            frm = end - args.days * 86400
            bucket = max(1, -(-int(args.days * 86400) // 600))
            sm = b64url("urn:bench:aas:A00:submodels:OperationalData")
            iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
            trend_url = (f"/api/v3.0/submodels/{sm}/submodel-elements/Vars.V00000/history?from={iso(frm)}&to={iso(end)}"
                         f"&bucket=PT{bucket}S&agg=min,max,avg,count&limit=602")
            trend = await timed(http, trend_url, args.requests)
            buckets = len((await http.get(trend_url)).json()["buckets"])
        render = await asyncio.to_thread(browser_overview, base, key, 5) if not args.no_browser else None
    finally:
        for p in (gw, sim):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    none = [r["cores"] for r in rounds if r["streams"] == 0]
    fifty = [r["cores"] for r in rounds if r["streams"] == 50]
    diffs = [b - a for a, b in zip(none, fifty, strict=True)]
    m = re.search(r"^gateway_samples_total\{quality=\"good\"\} (\S+)", ingest, re.M)
    return {
        "benchmark": "ui", "machine": machine_info(packages=["uvicorn", "starlette", "fastapi", "asyncua"],
                                                    debian=["chromium"]),
        "setup": {"assets": ASSETS, "points": ASSETS * POINTS, "ingest_values_per_s": ASSETS * POINTS,
                  "history_rows": rows, "prefill_s": round(prefill_s, 1), "window_s": args.window,
                  "rounds": args.rounds, "good_samples_at_end": float(m.group(1)) if m else None},
        "cpu": {"rounds": rounds, "median_cores_no_streams": statistics.median(none),
                "median_cores_50_streams": statistics.median(fifty),
                "median_cost_of_50_streams_cores": statistics.median(diffs), "target_cores": 0.05},
        "overview_api": overview, "overview_in_chromium": render,
        "trend_7d_bucketed": {**trend, "buckets": buckets, "bucket_s": bucket, "target_ms": 500},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    result = asyncio.run(run(args))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    c = result["cpu"]
    print(json.dumps({"cost_of_50_streams_cores": round(c["median_cost_of_50_streams_cores"], 4),
                      "overview_api_median_ms": round(result["overview_api"]["median_ms"], 1),
                      "overview_chromium_median_ms": result["overview_in_chromium"] and
                      round(result["overview_in_chromium"]["median_ms"], 1),
                      "trend_7d_median_ms": round(result["trend_7d_bucketed"]["median_ms"], 1)}, indent=2))
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
