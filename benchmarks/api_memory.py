"""Does the gateway's memory come back after a storm of requests? RSS after warm-up vs after a fuzz/load run.

Issue 10 saw RSS grow from 113 MB to 250 MB over 15 minutes of fuzzing and load, and stay there.
This runs the real thing: `aas-gateway run` in its own process, collecting from a simulated CNC
machine (another process), with its REST API on httptools. A load generator in this process sends a
fixed number of requests from concurrent keep-alive clients, a mix of what readers, writers and
fuzzers send:

* reads (shells, submodels, `$value`, history raw and bucketed), each with a query string or id never
  seen before, so nothing is served from a cache keyed by request input;
* filters with fresh base64url ids and semanticIds (Reference JSON and bare IRIs), unknown paths;
* bad bodies: nested 1,000 deep, 5,000-digit integers, lone surrogates, bad strings of 60 KB (parsed,
  refused, audited), 1 MB bodies (413 while streaming), wrong media types;
* writes to the machine (audited, fsynced) and wrong API keys (fresh secrets of an existing key id,
  which go through scrypt and the refused-secrets cache).

RSS of the gateway process is taken after a warm-up (the same mix, so every code path and its
imports are loaded), after an idle phase (the baseline: what merely running and collecting adds
over the same time, `--idle-s`), then after the load run and a short settle, and sampled throughout
for the peak. Pass: RSS after the load within 10 % of RSS after warm-up, and no 5xx.
Results: benchmarks/results/api_memory.json.

    pip install -e '.[bench]' && python benchmarks/api_memory.py      # 5,000 warm-up, 120 s idle, 20,000 measured
    python benchmarks/api_memory.py --requests 50000 --idle-s 0
    python benchmarks/api_memory.py --gateway-root /tmp/old-checkout  # the same mix against other code
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.auth.apikeys import ApiKeyStore  # noqa: E402

AAS = "urn:bench:aas:CNC01"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


SM = b64(f"{AAS}:submodels:OperationalData")
SHELL = b64(AAS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_simulator() -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "simulators", "--machine", "cnc:0", "--json",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                                                cwd=ROOT)
    assert proc.stdout is not None
    machine: dict[str, Any] = {}
    while True:
        data = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        if data.get("ready"):
            return proc, machine
        machine = data


BAD_KEY_EVERY = 100  # a wrong secret costs a scrypt (16 MB, tens of ms): 1 request in this many


def make_request(rng: random.Random, n: int, bad_key: str) -> tuple[str, str, dict[str, Any]]:
    """(method, path under the API base, httpx keyword arguments) of the n-th request of the mix."""
    u = f"{n}-{rng.random()}"  # makes every id, filter and query string new
    value = f"/submodels/{SM}/submodel-elements/Feed.Override/$value"
    json_h = {"Content-Type": "application/json"}
    kind = n % 20
    if kind == 0:
        return "GET", "/shells", {"params": {"limit": 1 + n % 3, "idShort": f"x{u}"}}
    if kind == 1:
        return "GET", f"/submodels/{SM}", {"params": {"level": "core", "u": u}}
    if kind == 2:
        return "GET", value, {"params": {"u": u}}
    if kind == 3:
        return "GET", f"/submodels/{SM}/submodel-elements/Spindle.Speed/history", {"params": {"limit": 10, "u": u}}
    if kind == 4:
        return "GET", f"/submodels/{SM}/submodel-elements/Spindle.Speed/history", {
            "params": {"bucket": f"PT{1 + n % 50}S", "agg": "min,max,avg"}}
    if kind == 5:
        return "GET", f"/submodels/{b64('urn:nope:' + u)}", {}
    if kind == 6:
        return "GET", "/submodels", {"params": {"semanticId": b64(json.dumps(
            {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": f"urn:s:{u}"}]}))}}
    if kind == 7:
        return "GET", "/submodels", {"params": {"semanticId": b64(f"https://example.com/{u}")}}
    if kind == 8:
        return "GET", "/shells", {"params": {"assetIds": b64(f"urn:asset:{u}")}}
    if kind == 9:
        return "GET", f"/shells/{SHELL}/submodels/{SM}/submodel-elements/Nope{n}", {}
    if kind == 10:
        return "PATCH", value, {"content": b"[" * 1000 + b"]" * 1000, "headers": json_h}
    if kind == 11:
        return "PATCH", value, {"content": b"9" * 5000, "headers": json_h}
    if kind == 12:
        return "PATCH", value, {"content": f'"\\ud800{u}"'.encode(), "headers": json_h}
    if kind == 13:
        return "PATCH", value, {"content": b'"' + u.encode() + b"x" * 60_000 + b'"', "headers": json_h}
    if kind == 14:
        return "PATCH", value, {"content": b"[" + b"1," * 524_287 + b"1]", "headers": json_h}
    if kind == 15:
        return "PATCH", value, {"content": b"42", "headers": {"Content-Type": "text/plain"}}
    if kind == 16:
        return "PATCH", value, {"json": {"Override": 50.0 + n % 50}}
    if kind == 17 and BAD_KEY_EVERY and n % BAD_KEY_EVERY == 17 % BAD_KEY_EVERY:
        return "GET", "/shells", {"headers": {"Authorization": f"Bearer {bad_key}{u}"}}
    if kind == 18:
        return "GET", f"/submodels/{SM}/submodel-elements/Spindle.Speed/history", {
            "params": {"bucket": "1e308"}}
    return "GET", f"/{u}/nothing/here", {}


async def load(api: str, key: str, bad_key: str, start: int, count: int, concurrency: int,
               seed: int) -> dict[str, int]:
    """`count` requests of the mix from `concurrency` keep-alive clients; status code -> how many."""
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(start, start + count):
        queue.put_nowait(n)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=api, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
            while not queue.empty():
                n = queue.get_nowait()
                method, path, kw = make_request(rng, n, bad_key)
                try:
                    r = await http.request(method, path, **kw)
                    code = str(r.status_code)
                except httpx.TransportError as e:
                    code = type(e).__name__
                statuses[code] = statuses.get(code, 0) + 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return dict(sorted(statuses.items()))


async def settle_rss(proc: psutil.Process, seconds: float) -> int:
    """RSS after `seconds` of quiet (the last of a few samples: buffers freed late are counted out)."""
    end = time.monotonic() + seconds
    rss = proc.memory_info().rss
    while time.monotonic() < end:
        await asyncio.sleep(0.5)
        rss = proc.memory_info().rss
    return rss


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="api-memory-"))
    sim, machine = await start_simulator()
    gw: asyncio.subprocess.Process | None = None
    try:
        port = free_port()
        cfg = {
            "historian": {"path": str(tmp / "historian.sqlite")},
            "api": {"port": port, **({"http": args.http} if args.http != "httptools" else {})},
            "assets": [{
                "id_short": "CNC01", "id": AAS, "global_asset_id": "urn:bench:asset:CNC01",
                "source": {"type": "opcua", "endpoint": machine["endpoint"], "namespace": machine["namespace"],
                           "security": {"policy": "None", "mode": "None"}, "publishing_interval_ms": 100},
                "points": [{"node": "s=Feed.Override", "path": "Feed.Override", "type": "xs:double", "writable": True},
                           {"node": "s=Spindle.Speed", "path": "Spindle.Speed", "type": "xs:double"},
                           {"node": "s=Spindle.Load", "path": "Spindle.Load", "type": "xs:double"}],
            }],
        }
        (tmp / "gateway.yaml").write_text(yaml.safe_dump(cfg))
        store = ApiKeyStore(tmp / "api-keys.json")
        key, _ = store.create("bench", "operator")
        bad_key = key.rsplit("_", 1)[0] + "_wrong"
        cmd = [sys.executable, "-m", "gateway.cli", "run", "--log-level", "ERROR", "-c"]
        env = {**os.environ, "PYTHONPATH": str(args.gateway_root)}  # the code under test, whatever is installed
        gw = await asyncio.create_subprocess_exec(*cmd, str(tmp / "gateway.yaml"), env=env,
                                                  stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                                                  cwd=args.gateway_root)
        api = f"http://127.0.0.1:{port}/api/v3.0"
        async with httpx.AsyncClient(timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("gateway did not start")
                await asyncio.sleep(0.2)
        proc = psutil.Process(gw.pid)
        rss_start = proc.memory_info().rss
        peak = rss_start

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, proc.memory_info().rss)
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        t0 = time.monotonic()
        warm_statuses = await load(api, key, bad_key, 0, args.warmup, args.concurrency, args.seed)
        warm_s = time.monotonic() - t0
        rss_warm = await settle_rss(proc, args.settle)
        await asyncio.sleep(args.idle_s)
        rss_idle = await settle_rss(proc, args.settle)
        t0 = time.monotonic()
        statuses = await load(api, key, bad_key, args.warmup, args.requests, args.concurrency, args.seed + 1)
        load_s = time.monotonic() - t0
        rss_after = await settle_rss(proc, args.settle)
        sampler.cancel()
        growth = rss_after / rss_warm - 1
        return {
            "benchmark": "api_memory", "date": time.strftime("%Y-%m-%d"), "http": args.http,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "requests": {"warmup": args.warmup, "measured": args.requests, "concurrency": args.concurrency,
                         "warmup_s": round(warm_s, 1), "measured_s": round(load_s, 1),
                         "measured_per_s": round(args.requests / load_s)},
            "statuses_warmup": warm_statuses, "statuses": statuses,
            "gateway_root": str(args.gateway_root), "idle_s": args.idle_s,
            "rss_mb": {"start": round(rss_start / 2**20, 1), "after_warmup": round(rss_warm / 2**20, 1),
                       "after_idle": round(rss_idle / 2**20, 1), "after_load": round(rss_after / 2**20, 1),
                       "peak": round(peak / 2**20, 1)},
            "growth_idle_pct": round(100 * (rss_idle / rss_warm - 1), 1),
            "growth_after_warmup_pct": round(100 * growth, 1),
            "pass": growth <= 0.10 and not any(s.startswith("5") for s in statuses),
        }
    finally:
        for p in (gw, sim):
            if p is not None and p.returncode is None:
                p.terminate()
                try:
                    await asyncio.wait_for(p.wait(), 15)
                except TimeoutError:
                    p.kill()
                    await p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    global BAD_KEY_EVERY
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warmup", type=int, default=5_000)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--idle-s", type=float, default=120.0, help="idle phase after the warm-up (the baseline)")
    ap.add_argument("--gateway-root", type=Path, default=ROOT, help="checkout whose gateway is run")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of quiet before RSS is read")
    ap.add_argument("--http", choices=["httptools", "h11"], default="httptools")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--bad-keys-every", type=int, default=BAD_KEY_EVERY,
                    help="one request in N carries a wrong API key secret (0: none)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "api_memory.json")
    args = ap.parse_args()
    BAD_KEY_EVERY = args.bad_keys_every
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
