"""The ingest hot path in one process, without sockets: client CPU per value, gateway vs raw asyncua client.

`benchmarks/ingest.py` is the figure that counts (real servers, real sockets, separate processes), but
on a shared 2-core machine its per-round ratios move by +-15 %, too much to see a 3 % optimisation. This
script measures the same client-side work with the noise taken out: the PublishResponses a server would
send are encoded in advance (one per server and tick, `--points` variables changing `--rate` times a
second, shaped like what each stack sends: node-opcua with picoseconds and millisecond timestamps,
asyncua's simulators with one microsecond timestamp per tick), then replayed at their real schedule into

* **raw**: asyncua's own `Subscription` with a handler that only counts (what ingest.py's raw client
  runs), after asyncua's own decoding of the response (stock codec: this process never imports the
  gateway, exactly like the raw client);
* **gateway**: the gateway's real objects built from the same configuration ingest.py uses
  (`gateway.app.Gateway`: pipeline, historian with its writer thread and `synchronous=full` on a
  temporary file, live AAS model, status refresh), fed through `SubscriptionEngine._on_publish` after
  decoding with the gateway's codec. No REST server: ingest.py's gateway serves no request either.

What is left out on both sides alike: socket reads, the secure channel, PublishRequests and acks. CPU is
the process's user + system time over the replay (the historian's writer thread included) after a
warm-up; each role runs in its own fresh process, rounds alternate which goes first. Figures: CPU per
value and peak RSS (ru_maxrss) per role, and per round the ratio gateway / raw.

    python benchmarks/ingest_path.py                                  # both stacks, 5,000 points x 2 Hz
    python benchmarks/ingest_path.py --stack nodeopcua --points 10000 --rate 1 --rounds 3
    python benchmarks/ingest_path.py --role gateway --stack nodeopcua --profile /tmp/gw.prof  # cProfile one run

Results go to benchmarks/results/ingest_path.json (or --out).
"""
# asyncua annotates its structures with NewType aliases; plain ints and datetimes are right at run time
# mypy: disable-error-code="arg-type"

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest_path.json"
SERVERS = 2
PUBLISHING_MS, SAMPLING_MS, QUEUE = 500, 0, 10  # as benchmarks/ingest.py


def payloads(stack: str, per_server: int, ticks: int, rate: float, t0: datetime) -> list[list[bytes]]:
    """Encoded PublishResponses, [tick][server], with the encoder of this process (stock or the gateway's)."""
    from asyncua import ua
    from asyncua.ua.ua_binary import struct_to_binary

    out: list[list[bytes]] = []
    for tick in range(ticks):
        start = t0 + timedelta(seconds=tick / rate)
        per_tick = []
        for server in range(SERVERS):
            items = []
            for i in range(per_server):
                if stack == "nodeopcua":
                    # node-opcua's clock: milliseconds, made unique by picoseconds; ~100 values per ms here
                    ts = start + timedelta(milliseconds=i // 100)
                    dv = ua.DataValue(ua.Variant(float(tick + 1), ua.VariantType.Double), SourceTimestamp=ts,
                                      ServerTimestamp=ts, SourcePicoseconds=(i % 100) * 10,
                                      ServerPicoseconds=(i % 100) * 10)
                else:  # the scale simulators stamp every value of a tick with one datetime.now()
                    ts = start + timedelta(microseconds=123)
                    dv = ua.DataValue(ua.Variant(float(tick + 1), ua.VariantType.Double), SourceTimestamp=ts,
                                      ServerTimestamp=ts)
                dv.StatusCode = None  # Good is sent as "no status" by both stacks
                items.append(ua.MonitoredItemNotification(ClientHandle=i, Value=dv))
            resp = ua.PublishResponse()
            resp.Parameters.SubscriptionId = server + 1
            resp.Parameters.NotificationMessage.SequenceNumber = tick + 1
            resp.Parameters.NotificationMessage.PublishTime = start
            resp.Parameters.NotificationMessage.NotificationData = [ua.DataChangeNotification(MonitoredItems=items)]
            per_tick.append(struct_to_binary(resp))
        out.append(per_tick)
    return out


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def replay(data: list[list[bytes]], rate: float, warmup_ticks: int, feed: Any,
                 settle: Any) -> dict[str, Any]:
    """Feed every tick's responses at its time; CPU, wall time, values and GC time after the warm-up ticks."""
    from asyncua import ua
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary

    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    c0 = w0 = 0.0
    values = 0
    for tick, per_server in enumerate(data):
        if tick == warmup_ticks:
            await settle()
            c0, w0, gc0 = cpu_s(), time.monotonic(), dict(GC_SPENT)
        await asyncio.sleep(max(0.0, start + tick / rate - loop.time()))
        for server, payload in enumerate(per_server):
            resp = struct_from_binary(ua.PublishResponse, Buffer(payload))
            n = await feed(server, resp.Parameters)
            if tick >= warmup_ticks:
                values += n
    await settle()
    return {"values": values, "cpu_s": cpu_s() - c0, "wall_s": time.monotonic() - w0,
            "gc": {k: round(v - gc0[k], 3) for k, v in GC_SPENT.items()}}


async def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    from asyncua import ua
    from asyncua.common.subscription import Subscription, SubscriptionItemData

    per_server = args.points // SERVERS
    ticks = args.warmup_ticks + round(args.seconds * args.rate)
    data = payloads(args.stack, per_server, ticks, args.rate, datetime.now(UTC))

    class Handler:  # ingest.py's raw client handler
        def __init__(self) -> None:
            self.n = 0

        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            self.n += 1

        def status_change_notification(self, status: Any) -> None:
            pass

    handler = Handler()
    server = SimpleNamespace(observer=SimpleNamespace(on_notification=lambda *a: None))
    subs = []
    for s in range(SERVERS):
        sub = Subscription(server, ua.CreateSubscriptionParameters(RequestedPublishingInterval=PUBLISHING_MS),
                           handler)
        sub.subscription_id = s + 1
        for i in range(per_server):
            item = SubscriptionItemData()
            item.node = f"node {s}/{i}"  # type: ignore[assignment]  # only passed on to the handler
            item.client_handle = i
            sub._monitored_items[i] = item
        subs.append(sub)
    expected = 0

    async def feed(server_index: int, result: Any) -> int:
        nonlocal expected
        await subs[server_index].publish_callback(result)
        n = len(result.NotificationMessage.NotificationData[0].MonitoredItems)
        expected += n
        return n

    async def settle() -> None:  # every handler task has run
        while handler.n < expected:  # noqa: ASYNC110  (the handler is asyncua's to call: nothing to wait on)
            await asyncio.sleep(0.001)

    return await replay(data, args.rate, args.warmup_ticks, feed, settle)


def measured_module(name: str, root: Path) -> Any:
    """Module `name` of the measured code, None if that code has none (older code, for a before/after figure).

    The editable install would otherwise supply it from the working tree to a copy of older code.
    """
    import importlib

    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    return mod if os.path.realpath(mod.__file__ or "").startswith(os.path.realpath(root) + os.sep) else None


async def run_gateway(args: argparse.Namespace) -> dict[str, Any]:
    root = args.gateway_root
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ingest  # benchmarks/ingest.py: the gateway configuration it runs
    import yaml

    from connectors.opcua.limits import ServerLimits
    from connectors.opcua.subscription import SubscriptionEngine, _Subscription
    from gateway.app import Gateway
    from gateway.config import GatewayConfig

    gc_tuning = measured_module("gateway.gc_tuning", root)

    per_server = args.points // SERVERS
    ticks = args.warmup_ticks + round(args.seconds * args.rate)
    data = payloads(args.stack, per_server, ticks, args.rate, datetime.now(UTC))
    stack = SimpleNamespace(endpoints=[f"opc.tcp://127.0.0.1:{4840 + i}" for i in range(SERVERS)],
                            namespace="urn:bench", per_proc=per_server,
                            node_names=lambda: [[f"Scale.V{k:05d}" for k in range(per_server)]
                                                for _ in range(SERVERS)])
    with tempfile.TemporaryDirectory() as tmp:
        cfg_dict = ingest.gateway_config(stack, Path(tmp) / "historian.sqlite")
        cfg_dict["api"] = {"enabled": False}
        cfg = GatewayConfig.model_validate(yaml.safe_load(yaml.safe_dump(cfg_dict)))
        gw = Gateway(cfg)
        await gw.historian.open()
        for info in gw.pipeline.points.values():
            await gw.historian.register_series(info.point_id, info.value_type, info.unit)
        engines: list[tuple[SubscriptionEngine, _Subscription]] = []
        for source in gw.sources.values():
            src: Any = source
            src._emit = gw.pipeline.publish
            engine = SubscriptionEngine(None, src.cfg, src.points, ServerLimits(),
                                        src._deliver, src._mark_missing, src.name)
            sub = _Subscription(len(engines) + 1, PUBLISHING_MS, 10)
            for p in src.points:
                p.subscription = sub
                sub.points.add(p)
            engines.append((engine, sub))
        # the background work of Gateway.start() that runs without sources and API
        tasks = [asyncio.create_task(gw._watch_sources()), asyncio.create_task(gw.loop_lag.run())]
        if gc_tuning is not None:
            tasks.append(asyncio.create_task(gc_tuning.keep_frozen()))

        async def feed(server_index: int, result: Any) -> int:
            engine, sub = engines[server_index]
            await engine._on_publish(sub, result)
            return len(result.NotificationMessage.NotificationData[0].MonitoredItems)

        async def settle() -> None:  # everything handed over is committed
            await gw.historian.flush()

        profiler = None
        if args.profile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        result = await replay(data, args.rate, args.warmup_ticks, feed, settle)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        committed = gw.historian.metrics.rows_written._value.get()
        await gw.historian.close()
    expected = ticks * per_server * SERVERS
    if committed != expected:
        raise SystemExit(f"the historian committed {committed:.0f} rows of {expected}")
    return {**result, "committed": int(committed)}


GC_SPENT = {"gen0_s": 0.0, "gen1_s": 0.0, "gen2_s": 0.0, "gen2_n": 0.0}


def gc_timer() -> None:
    """Count the time spent in garbage collections, by generation, into GC_SPENT."""
    import gc

    spent = GC_SPENT
    started = [0.0]

    def cb(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            spent[f"gen{info['generation']}_s"] += time.thread_time() - started[0]
            if info["generation"] == 2:
                spent["gen2_n"] += 1

    gc.callbacks.append(cb)


def child(args: argparse.Namespace) -> int:
    gc_timer()
    result = asyncio.run(run_raw(args) if args.role == "raw" else run_gateway(args))
    result["cpu_us_per_value"] = 1e6 * result["cpu_s"] / max(result["values"], 1)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


def spawn(role: str, stack: str, args: argparse.Namespace) -> dict[str, Any]:
    root = args.before if role == "before" else ROOT
    cmd = [sys.executable, __file__, "--role", "raw" if role == "raw" else "gateway", "--stack", stack,
           "--points", str(args.points), "--rate", str(args.rate), "--seconds", str(args.seconds),
           "--warmup-ticks", str(args.warmup_ticks), "--gateway-root", str(root)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"{role} failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2.0, help="changes per second per point")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured replay per run")
    ap.add_argument("--warmup-ticks", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stack", choices=("both", "asyncua", "nodeopcua"), default="both")
    ap.add_argument("--role", choices=("raw", "gateway"), help="run one role in this process and print its JSON")
    ap.add_argument("--profile", help="with --role gateway: write a cProfile of the replay here")
    ap.add_argument("--gateway-root", type=Path, default=ROOT, help="with --role gateway: the code to measure")
    ap.add_argument("--before", type=Path, help="a copy of older code (git archive): measured as a third role "
                    "'before' in every round, for a before/after figure")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quiet-wait", type=float, default=30.0, help="wait up to S s for an idle machine first")
    args = ap.parse_args()
    if args.role:
        if args.stack == "both":
            ap.error("--role needs --stack asyncua or nodeopcua")
        return child(args)

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from machine import machine_busy_seconds, machine_info, wait_quiet

    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    stacks = ("asyncua", "nodeopcua") if args.stack == "both" else (args.stack,)
    results: dict[str, Any] = {}
    b0, t0 = machine_busy_seconds(), time.monotonic()
    for stack in stacks:
        rounds = []
        for i in range(args.rounds):
            roles = ["raw", "gateway"] + (["before"] if args.before else [])
            order = roles if i % 2 == 0 else roles[::-1]
            got: dict[str, Any] = {"order": list(order)}
            for role in order:
                got[role] = spawn(role, stack, args)
            got["ratio_cpu_per_value"] = round(got["gateway"]["cpu_us_per_value"] / got["raw"]["cpu_us_per_value"], 3)
            line = (f"{stack} round {i + 1}: raw {got['raw']['cpu_us_per_value']:.2f} µs/value "
                    f"({got['raw']['peak_rss_mb']:.0f} MB), gateway {got['gateway']['cpu_us_per_value']:.2f} µs/value "
                    f"({got['gateway']['peak_rss_mb']:.0f} MB): ratio {got['ratio_cpu_per_value']:.3f}")
            if args.before:
                got["ratio_before_cpu_per_value"] = round(got["before"]["cpu_us_per_value"]
                                                          / got["raw"]["cpu_us_per_value"], 3)
                got["ratio_gateway_over_before"] = round(got["gateway"]["cpu_us_per_value"]
                                                         / got["before"]["cpu_us_per_value"], 3)
                line += (f"; before {got['before']['cpu_us_per_value']:.2f} µs/value "
                         f"({got['before']['peak_rss_mb']:.0f} MB): ratio {got['ratio_before_cpu_per_value']:.3f}, "
                         f"after/before {got['ratio_gateway_over_before']:.3f}")
            rounds.append(got)
            print(line, flush=True)
        results[stack] = {
            "rounds": rounds,
            "median_raw_us_per_value": round(statistics.median(r["raw"]["cpu_us_per_value"] for r in rounds), 3),
            "median_gateway_us_per_value": round(statistics.median(r["gateway"]["cpu_us_per_value"]
                                                                   for r in rounds), 3),
            "median_ratio_cpu_per_value": round(statistics.median(r["ratio_cpu_per_value"] for r in rounds), 3),
            "gateway_peak_rss_mb": round(max(r["gateway"]["peak_rss_mb"] for r in rounds), 1),
        }
        if args.before:
            results[stack]["median_ratio_before_cpu_per_value"] = round(statistics.median(
                r["ratio_before_cpu_per_value"] for r in rounds), 3)
            results[stack]["median_ratio_gateway_over_before"] = round(statistics.median(
                r["ratio_gateway_over_before"] for r in rounds), 3)
            results[stack]["before_peak_rss_mb"] = round(max(r["before"]["peak_rss_mb"] for r in rounds), 1)
        print(f"{stack}: median ratio {results[stack]['median_ratio_cpu_per_value']}"
              + (f", before {results[stack]['median_ratio_before_cpu_per_value']}, after/before "
                 f"{results[stack]['median_ratio_gateway_over_before']}" if args.before else ""), flush=True)
    busy = (machine_busy_seconds() - b0) / (time.monotonic() - t0)
    result = {
        "benchmark": "ingest_path", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(packages=("aas-edge-gateway", "asyncua")),
        "machine_busy_cores_before": busy_before, "machine_busy_cores_during": round(busy, 2),
        "code": {"measured": str(ROOT), "before": str(args.before) if args.before else None},
        "load": {"points": args.points, "rate_hz_per_point": args.rate, "servers": SERVERS,
                 "seconds_per_run": args.seconds, "warmup_ticks": args.warmup_ticks, "rounds": args.rounds},
        "stacks": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
