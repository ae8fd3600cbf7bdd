"""Forwarding benchmark: the historian's store-and-forward loops vs raw clients, on real peers on loopback.

All in one run, on the same points (1,000 by default, mixed xs:double / xs:int / xs:boolean, with
a few bad-quality samples) and the same samples:

1. InfluxDB rate. A historian pre-filled with N samples is drained from cursor 0 by a `Forwarder`
   with an `InfluxSink` to VictoriaMetrics (Debian's `victoria-metrics`, /api/v2/write): points/s
   from the forwarder's start until its cursor reaches the historian's last seq (every batch
   answered 204). The forwarder runs as the gateway runs it, with its worker process reading and
   encoding the batches (`worker_process`, on by default; started before the clock like the
   clients); the worker's CPU is measured and reported beside the process's. Baselines, each
   posting one joined line-protocol body per batch of 5,000 with the same synchronous
   `influxdb-client` write API, as the sink does:
   * raw: builds the lines with f-strings from the samples in memory (a per-series tag prefix, the
     same fields and value kinds as the sink's LineEncoder) while the clock runs;
   * sqlite: reads 5,000 rows after a cursor from the historian file with plain sqlite3, then the
     same f-string lines (what the least store-and-forward in Python does, no cursor persistence).
   The headline is the forwarder's rate over the *strongest* of the two (the higher median), target
   >= 0.9 (issue 11). Informative only: pre-built, pre-joined bodies (the HTTP + TSDB ceiling, no line
   building at all). Each measurement gets a fresh VictoriaMetrics database; rounds alternate the
   order (reversed in even rounds), the median counts.
2. Catch-up after an outage. While samples are appended to the historian at a steady rate (a task
   standing in for the sources), VictoriaMetrics is stopped for `--outage` s and started again;
   figures: the wait until the forwarder's first acknowledged batch (its retry backoff), the
   catch-up rate (samples/s acknowledged from then until lag 0, while new samples keep arriving),
   and the time from the TSDB's return to lag 0.
3. MQTT rate. A historian with the first `--mqtt-samples` samples drained by a `Forwarder` with an
   `MqttPublisher` (QoS 1, per_point, MQTT 5) to Mosquitto: messages/s until the last batch is
   acknowledged. Baseline: a raw paho client (loop_start) building each message as a hand-written
   publisher does (the same topics, a JSON document with the same keys: json.dumps, isoformat) and
   publishing it at QoS 1 with the same in-flight window, waiting for every PUBACK; the order
   alternates by round. Target: forwarder / raw >= 0.7. Informative: the same client publishing the
   gateway's exact payload bytes, pre-built (paho and the broker alone).

Sinks are started (clients built, the MQTT connection up) before the clock starts, as the raw
clients are. Results go to benchmarks/results/forward.json.

    python benchmarks/forward.py                          # 200k samples, 60 s outage, 3 rounds
    python benchmarks/forward.py --outage 10 --rounds 1   # quick look
    python benchmarks/forward.py --profile influx         # cProfile of one forwarder drain, top costs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import math
import pstats
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from machine import machine_busy_seconds, wait_quiet  # benchmarks/machine.py
from machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from typing import cast  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from influxdb_client import InfluxDBClient, WritePrecision  # noqa: E402
from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: E402

from connectors.base import ForwardSink, PointMeta, PreparesBatches, Record, SendResult  # noqa: E402
from connectors.batch import BatchEncoder, EncodedBatch, EncodesInWorker, RecordBatch  # noqa: E402
from connectors.influx import sink as influx_sink_module  # noqa: E402
from connectors.influx.config import InfluxConfig  # noqa: E402
from connectors.influx.lineprotocol import LineEncoder  # noqa: E402
from connectors.influx.sink import InfluxSink  # noqa: E402
from connectors.mqtt import payload as mqtt_payload  # noqa: E402
from connectors.mqtt import topics as mqtt_topics  # noqa: E402
from connectors.mqtt.config import BrokerConfig, MqttPublisherConfig  # noqa: E402
from connectors.mqtt.publisher import MqttPublisher  # noqa: E402
from connectors.sample import Sample  # noqa: E402
from gateway.config import HistorianSettings, RetentionConfig  # noqa: E402
from gateway.forwarder import Forwarder, ForwarderSettings  # noqa: E402
from gateway.historian import Historian  # noqa: E402
from tests.influx.victoria import free_port, start_victoria_metrics, stop_victoria_metrics  # noqa: E402
from tests.mqtt.broker import broker_dir, start_mosquitto, stop_mosquitto  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "forward.json"
BATCH = 5000  # the forwarder's default batch size, and the raw writers' batch
MEASUREMENT = "aas"
ORG, BUCKET = "factory", "bench"
GATEWAY_ID = "bench"
HISTORICAL_AFTER_S = ForwarderSettings().historical_after_s
MS = cast(WritePrecision, "ms")  # the client's WritePrecision values are these very strings
STATUS_BAD_NO_DATA = 0x80310000  # BadNoData: written with `status` only, no value


# ---------------------------------------------------------------- machine, peers, processes


def machine_info() -> dict[str, Any]:
    return _machine_info(packages=("aas-edge-gateway", "influxdb-client", "paho-mqtt", "urllib3", "prometheus-client",
                                   "pydantic"), debian=("victoria-metrics", "mosquitto"))






def cpu_of(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.NoSuchProcess:
        return 0.0


class Peers:
    """Every server process this benchmark starts, stopped on exit, error or signal."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.vms: list[Any] = []
        self.brokers: list[Any] = []
        self.broker_dirs: list[Path] = []

    def start_vm(self, name: str, port: int | None = None) -> tuple[str, Any]:
        url, proc = start_victoria_metrics(self.tmp / name, port)
        self.vms.append(proc)
        return url, proc

    def start_broker(self) -> tuple[int, Any]:
        d = self.tmp / "mqtt"
        d.mkdir(exist_ok=True)
        port, proc = start_mosquitto(d, persistence=False)
        self.brokers.append(proc)
        self.broker_dirs.append(broker_dir(d))
        return port, proc

    def stop_all(self) -> None:
        for p in self.vms:
            with contextlib.suppress(Exception):
                stop_victoria_metrics(p)
        for p in self.brokers:
            with contextlib.suppress(Exception):
                stop_mosquitto(p)
        for d in self.broker_dirs:
            if d.is_relative_to("/tmp") and d.name.startswith("mosquitto-test-"):
                shutil.rmtree(d, ignore_errors=True)


def vm_rows_inserted(url: str) -> int:
    """Rows VictoriaMetrics took in over the InfluxDB protocol (one per field of each line)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('vm_rows_inserted_total{type="influx"}'):
                return int(float(line.split()[-1]))
    return -1


def vm_force_flush(url: str) -> None:
    with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10):
        pass


# ---------------------------------------------------------------- the data set


def make_points(n: int) -> dict[str, PointMeta]:
    """n points on n/100 assets: 60 % xs:double, 25 % xs:int, 15 % xs:boolean."""
    meta: dict[str, PointMeta] = {}
    for k in range(n):
        asset = f"CNC{k // 100 + 1:02d}"
        r = k % 20
        if r < 12:
            vt, path, unit = "xs:double", f"Axis{k % 100:02d}.Position", ("mm", "degC", "1/min", "kW")[k % 4]
        elif r < 17:
            vt, path, unit = "xs:int", f"Counters.Count{k % 100:02d}", None
        else:
            vt, path, unit = "xs:boolean", f"State.Flag{k % 100:02d}", None
        pid = f"{asset}/OperationalData/{path}"
        meta[pid] = PointMeta(pid, asset, f"urn:bench:aas:{asset}", "OperationalData", path, vt, unit,
                              "0173-1#02-AAB381#003" if vt == "xs:double" else None)
    return meta


class ValueGen:
    """Deterministic, plausible values per point: noisy sines, rising counters, rarely toggling flags."""

    def __init__(self, meta: dict[str, PointMeta], seed: int) -> None:
        self.rng = random.Random(seed)
        self.points = list(meta.values())
        self.count = {m.point_id: self.rng.randrange(1000) for m in self.points}
        self.flag = {m.point_id: self.rng.random() < 0.5 for m in self.points}

    def value(self, m: PointMeta, t_s: float) -> tuple[Any, int]:
        rng = self.rng
        if rng.random() < 0.002:
            return None, STATUS_BAD_NO_DATA
        if m.value_type == "xs:double":
            return round(100.0 * math.sin(t_s / 30.0 + hash(m.path) % 7) + rng.gauss(0.0, 0.5), 4), 0
        if m.value_type == "xs:int":
            self.count[m.point_id] += rng.randrange(3)
            return self.count[m.point_id], 0
        if rng.random() < 0.05:
            self.flag[m.point_id] = not self.flag[m.point_id]
        return self.flag[m.point_id], 0


def make_samples(meta: dict[str, PointMeta], n: int, seed: int) -> list[Sample]:
    """n samples in scan rounds of all points, one round per second ending an hour ago (received 5 ms later)."""
    gen = ValueGen(meta, seed)
    points = gen.points
    rounds = -(-n // len(points))
    base = (time.time_ns() // 10**9 - 3600 - rounds) * 10**9
    out: list[Sample] = []
    for r in range(rounds):
        for k, m in enumerate(points):
            if len(out) == n:
                return out
            ts = base + r * 10**9 + (k * 997) % 1000 * 10**6  # spread over the second, ms resolution
            v, status = gen.value(m, ts / 1e9)
            out.append(Sample(m.point_id, v, ts, None, ts + 5_000_000, status))
    return out


def historian_settings(path: Path) -> HistorianSettings:
    # the gateway's defaults (synchronous=full, 200 ms group commit), without retention passes
    return HistorianSettings(path=path, retention=RetentionConfig(max_age_days=None, max_size_mb=None))


async def open_filled_historian(path: Path, meta: dict[str, PointMeta], samples: Sequence[Sample]) -> Historian:
    h = Historian(historian_settings(path))
    await h.open()
    for m in meta.values():
        await h.register_series(m.point_id, m.value_type, m.unit)
    for i in range(0, len(samples), 10_000):
        await h.append(samples[i:i + 10_000])
    await h.flush()
    assert await h.max_seq() == len(samples)
    return h


# ---------------------------------------------------------------- measuring a forwarder


class PreStarted:
    """A sink already started (client built, connection up) before the clock: run() then only forwards."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.name = sink.name
        self.acked = 0  # last seq the sink returned for
        self.acked_event = asyncio.Event()  # set after every send: drain() waits on it instead of polling

    async def start(self) -> None:
        pass

    async def prepare(self, records: Sequence[Record]) -> None:
        if isinstance(self.sink, PreparesBatches):  # the sink's own overlap, as the gateway runs it
            await self.sink.prepare(records)

    def batch_encoder(self) -> BatchEncoder | None:  # the worker process, as the gateway runs it
        return self.sink.batch_encoder() if isinstance(self.sink, EncodesInWorker) else None

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        result = await self.sink.send(records, historical_before_ns)
        self.acked = records.last_seq if isinstance(records, RecordBatch | EncodedBatch) else records[-1].seq
        self.acked_event.set()
        return result

    async def close(self) -> None:
        await self.sink.close()


async def drain(name: str, sink: ForwardSink, h: Historian, target_seq: int,
                profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """Run a Forwarder from cursor 0 until its cursor reaches target_seq; rate, CPU."""
    fw = Forwarder(name, sink, h, ForwarderSettings(batch_size=BATCH))
    await fw.start_worker()  # started before the clock, like the sinks' clients and the raw clients
    worker = fw.health.worker_pid  # its CPU is the forwarder's too: counted apart, reported with it
    c0, b0, w0 = time.process_time(), machine_busy_seconds(), cpu_of(worker) if worker else 0.0
    if profile is not None:
        profile.enable()
    t0 = time.perf_counter()
    task = asyncio.create_task(fw.run(), name=f"forwarder-{name}")
    try:
        # woken by each acknowledged batch, not by a poll every few ms: polling would charge the
        # forwarder's process with event-loop wake-ups the raw baselines do not have
        while fw.health.cursor < target_seq:
            if task.done():
                task.result()
                raise RuntimeError(f"forwarder {name} stopped at cursor {fw.health.cursor}")
            if fw.health.retries:
                raise RuntimeError(f"forwarder {name} had to retry: {fw.health.last_error}")
            if isinstance(sink, PreStarted) and sink.acked < target_seq:
                sink.acked_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sink.acked_event.wait(), 1.0)
            else:  # the last batch is acknowledged: the cursor is being persisted
                await asyncio.sleep(0.0005)
        t1 = time.perf_counter()
    finally:
        if profile is not None:
            profile.disable()
        c1, b1, w1 = time.process_time(), machine_busy_seconds(), cpu_of(worker) if worker else 0.0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    n = target_seq
    return {"samples": n, "seconds": round(t1 - t0, 4), "rate": round(n / (t1 - t0), 1),
            "cpu_seconds": round(c1 - c0, 3), "worker_pid": worker, "worker_cpu_seconds": round(w1 - w0, 3),
            "machine_busy_cores": round((b1 - b0) / (t1 - t0), 2),
            "sent": fw.health.sent, "dead_letters": fw.health.dead_letters}


# ---------------------------------------------------------------- 1. InfluxDB rate


def influx_cfg(url: str) -> InfluxConfig:
    return InfluxConfig(type="influxdb", url=url, org=ORG, bucket=BUCKET, measurement=MEASUREMENT, batch_size=BATCH)


def _timed_writes(url: str, n: int, run: Callable[[Callable[[str | list[str]], None]], None]) -> dict[str, Any]:
    """Time `run(write)` with a SYNCHRONOUS influxdb-client write API; `write` posts one batch."""
    client = InfluxDBClient(url=url, token="", org=ORG, timeout=10_000, enable_gzip=False)
    write_api = client.write_api(write_options=SYNCHRONOUS)

    def write(record: str | list[str]) -> None:
        write_api.write(bucket=BUCKET, org=ORG, record=record, write_precision=MS)

    try:
        c0, b0 = time.process_time(), machine_busy_seconds()
        t0 = time.perf_counter()
        run(write)
        t1 = time.perf_counter()
        c1, b1 = time.process_time(), machine_busy_seconds()
    finally:
        write_api.close()
        client.close()
    return {"samples": n, "seconds": round(t1 - t0, 4), "rate": round(n / (t1 - t0), 1),
            "cpu_seconds": round(c1 - c0, 3), "machine_busy_cores": round((b1 - b0) / (t1 - t0), 2)}


def _line(prefix: str, kind: str, value: Any, status: int, ts_ms: int) -> str:
    """A line as a hand-written writer formats it (same fields and value kinds as the LineEncoder)."""
    if value is None:
        return f"{prefix}status={status}i {ts_ms}"
    if kind == "float":
        text = repr(float(value))
    elif kind == "int":
        text = f"{value}i"
    else:
        text = "true" if value else "false"
    return f"{prefix}value={text},status={status}i {ts_ms}"


def http_ceiling(url: str, bodies: list[str], n: int) -> dict[str, Any]:
    """Informative: influxdb-client posting pre-built, pre-joined bodies (no line building at all)."""

    def run(write: Callable[[str | list[str]], None]) -> None:
        for body in bodies:
            write(body)

    return _timed_writes(url, n, run)


def raw_influx(url: str, samples: Sequence[Sample], meta: dict[str, PointMeta], n: int) -> dict[str, Any]:
    """Baseline: a raw influxdb-client synchronous line-protocol batch writer on the same samples, in memory.

    What an integrator writes by hand: line-protocol strings built from the samples (f-strings over a
    per-series tag prefix) and joined into one body per batch of BATCH, as the sink posts them (a list
    of strings would make the client encode and join them line by line, a handicap the sink does not have).
    """
    encoder = LineEncoder(MEASUREMENT, influx_cfg("http://x").tags, "ms", meta)
    prefix = {pid: encoder._series(pid) for pid in meta}

    def run(write: Callable[[str | list[str]], None]) -> None:
        for i in range(0, len(samples), BATCH):
            write("\n".join(_line(*prefix[s.point], s.value, s.status, s.ts // 1_000_000)
                            for s in samples[i:i + BATCH]))

    return _timed_writes(url, n, run)


def raw_sqlite_influx(url: str, db: Path, meta: dict[str, PointMeta], n: int) -> dict[str, Any]:
    """Baseline: the least a Python store-and-forward does per batch, on the historian's own file.

    Read BATCH rows after a cursor from the historian file with plain sqlite3, format each row as the
    same line with an f-string from a per-series prefix, post with the same synchronous client; no cursor
    persistence, no objects per sample.
    """
    import sqlite3

    encoder = LineEncoder(MEASUREMENT, influx_cfg("http://x").tags, "ms", meta)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    prefix: dict[int, tuple[str, str]] = {}
    for sid, asset, sm, path in conn.execute("SELECT id, asset, submodel, path FROM series"):
        prefix[sid] = encoder._series(f"{asset}/{sm}/{path}")
    sql = "SELECT seq, series, ts, value, status FROM samples WHERE seq > ? ORDER BY seq LIMIT ?"

    def run(write: Callable[[str | list[str]], None]) -> None:
        cursor = 0
        while cursor < n:
            rows = conn.execute(sql, (cursor, BATCH)).fetchall()
            write("\n".join(_line(*prefix[sid], v, st, ts // 1_000_000) for _, sid, ts, v, st in rows))
            cursor = rows[-1][0]

    try:
        return _timed_writes(url, n, run)
    finally:
        conn.close()


async def influx_rate(peers: Peers, h: Historian, meta: dict[str, PointMeta], samples: list[Sample],
                      args: argparse.Namespace) -> dict[str, Any]:
    encoder = LineEncoder(MEASUREMENT, influx_cfg("http://x").tags, "ms", meta)
    lines = [encoder.encode(s) for s in samples]
    bodies = ["\n".join(lines[i:i + BATCH]) for i in range(0, len(lines), BATCH)]
    expected_rows = sum(2 if " value=" in ln else 1 for ln in lines)  # value and status fields, or status
    n = len(samples)
    runs: dict[str, list[dict[str, Any]]] = {"raw": [], "sqlite": [], "forwarder": [], "http-ceiling": []}
    for r in range(args.rounds):
        kinds = list(runs) if r % 2 == 0 else list(reversed(runs))
        for kind in kinds:
            quiet = await asyncio.to_thread(wait_quiet, args.quiet_wait)
            url, proc = peers.start_vm(f"vm-{kind}-{r}")
            vc0 = cpu_of(proc.pid)
            if kind == "raw":
                res = await asyncio.to_thread(raw_influx, url, samples, meta, n)
            elif kind == "http-ceiling":
                res = await asyncio.to_thread(http_ceiling, url, bodies, n)
            elif kind == "sqlite":
                res = await asyncio.to_thread(raw_sqlite_influx, url, h.settings.path, meta, n)
            else:
                sink = InfluxSink(f"influx-{r}", influx_cfg(url), meta)
                await sink.start()
                res = await drain(f"influx-{r}", PreStarted(sink), h, n)
            res["round"] = r + 1
            res["vm_cpu_seconds"] = round(cpu_of(proc.pid) - vc0, 3)
            res["machine_busy_cores_before"] = quiet
            await asyncio.to_thread(vm_force_flush, url)
            res["vm_rows_inserted"] = await asyncio.to_thread(vm_rows_inserted, url)
            res["vm_rows_expected"] = expected_rows
            stop_victoria_metrics(proc)
            runs[kind].append(res)
            print(f"  round {r + 1} {kind:14s}: {res['rate']:>10,.0f} points/s  ({res['seconds']:.2f} s, "
                  f"process CPU {res['cpu_seconds']:.2f} s"
                  + (f" + worker {res['worker_cpu_seconds']:.2f} s" if res.get("worker_pid") else "")
                  + f", VictoriaMetrics CPU {res['vm_cpu_seconds']:.2f} s, "
                  f"rows {res['vm_rows_inserted']:,}/{expected_rows:,}, machine busy before {quiet:.2f} cores)",
                  flush=True)
    median = {kind: statistics.median(x["rate"] for x in rs) for kind, rs in runs.items()}
    strongest = max(("raw", "sqlite"), key=lambda k: median[k])
    fw_rate = median["forwarder"]
    ratio = fw_rate / median[strongest]
    # per round: the forwarder over the stronger baseline of the same round
    round_ratios = [round(f["rate"] / max(a["rate"], b["rate"]), 3)
                    for f, a, b in zip(runs["forwarder"], runs["raw"], runs["sqlite"], strict=True)]
    return {
        "samples": n, "batch_size": BATCH, "line_protocol_bytes": sum(len(b) for b in bodies) + len(bodies) - 1,
        "baselines": {
            "raw": {"what": "influxdb-client SYNCHRONOUS, lines built with f-strings from the samples in memory, "
                            "one joined body per batch of 5,000", "rounds": runs["raw"], "median_rate": median["raw"]},
            "sqlite": {"what": "plain sqlite3 reads of 5,000 rows after a cursor from the historian file + the same "
                               "f-string lines, one joined body per batch, same client; no cursor persistence",
                       "rounds": runs["sqlite"], "median_rate": median["sqlite"]},
        },
        "strongest_baseline": strongest,
        "forwarder_influx_sink": {"rounds": runs["forwarder"], "median_rate": fw_rate},
        "ratio_forwarder_over_strongest": round(ratio, 3),
        "ratio_forwarder_over_strongest_per_round": round_ratios,
        "ratio_forwarder_over_each": {k: round(fw_rate / median[k], 3) for k in ("raw", "sqlite")},
        "informative_http_ceiling": {
            "what": "pre-built, pre-joined line-protocol bodies posted by the same client: the HTTP + TSDB "
                    "ceiling, with no line building at all",
            "rounds": runs["http-ceiling"], "median_rate": median["http-ceiling"]},
        "all_rows_stored": all(x["vm_rows_inserted"] == expected_rows for rs in runs.values() for x in rs),
        "target": "forwarder rate >= 0.9 x the strongest baseline's (issue 11)",
        "target_met": ratio >= 0.9,
    }


# ---------------------------------------------------------------- 2. catch-up after an outage


async def ingest(h: Historian, meta: dict[str, PointMeta], rate: float, stop: asyncio.Event,
                 counter: list[int]) -> None:
    """Append `rate` samples/s in 50 ms ticks, timestamped now, cycling over all points (deterministic values)."""
    gen = ValueGen(meta, seed=7)
    points = gen.points
    tick = 0.05
    k = 0
    start = time.monotonic()
    ticks = 0
    while not stop.is_set():
        ticks += 1
        due = int(rate * tick * ticks) - counter[0]
        now = time.time_ns()
        batch = []
        for _ in range(due):
            m = points[k % len(points)]
            k += 1
            v, status = gen.value(m, now / 1e9)
            batch.append(Sample(m.point_id, v, now, None, now, status))
        await h.append(batch)
        counter[0] += len(batch)
        delay = start + ticks * tick - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


async def catch_up(peers: Peers, h: Historian, meta: dict[str, PointMeta], args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    url, proc = peers.start_vm("vm-outage", port)
    sink = InfluxSink("influx-outage", influx_cfg(url), meta)
    fw = Forwarder("influx-outage", sink, h, ForwarderSettings(batch_size=BATCH, start_from="latest"))
    stop = asyncio.Event()
    appended = [0]
    ingest_task = asyncio.create_task(ingest(h, meta, args.ingest_rate, stop, appended))
    fw_task = asyncio.create_task(fw.run())
    trace: list[tuple[float, int, int]] = []  # (t, cursor, max_seq)

    async def sample_point() -> tuple[float, int, int]:
        m = await h.max_seq()
        c = fw.health.cursor
        t = time.monotonic()
        trace.append((t, c, m))
        return t, c, m

    async def watch_until(deadline: float, cond: Any = None) -> tuple[float, int, int] | None:
        while time.monotonic() < deadline:
            for task in (fw_task, ingest_task):
                if task.done():
                    task.result()
                    raise RuntimeError("a task of the catch-up phase stopped")
            pt = await sample_point()
            if cond is not None and cond(pt):
                return pt
            await asyncio.sleep(0.02)
        return None

    try:
        t_start = time.monotonic()
        await watch_until(t_start + args.steady)
        steady_lags = [m - c for t, c, m in trace if t >= t_start + 2]
        print(f"  steady state before the outage: lag max {max(steady_lags, default=0):,}, "
              f"{fw.health.state}", flush=True)
        proc_cpu0 = time.process_time()
        peers.vms.remove(proc)
        stop_victoria_metrics(proc)
        t_down = time.monotonic()
        _, cursor_down, max_down = await sample_point()
        print(f"  VictoriaMetrics stopped; outage of {args.outage:g} s ...", flush=True)
        await watch_until(t_down + args.outage)
        _, proc = peers.start_vm("vm-outage", port)
        t_up = time.monotonic()
        _, cursor_up, max_up = await sample_point()
        retries_during_outage = fw.health.retries
        print(f"  VictoriaMetrics back after {t_up - t_down:.1f} s; backlog {max_up - cursor_up:,} samples; "
              f"forwarder {fw.health.state} ({retries_during_outage} retries)", flush=True)
        first = await watch_until(t_up + 600, lambda pt: pt[1] > cursor_up)
        if first is None:
            raise RuntimeError("the forwarder did not resume within 600 s of the TSDB's return")
        t_first, cursor_first, max_first = first
        zero = await watch_until(t_first + 600, lambda pt: pt[1] >= pt[2])
        if zero is None:
            raise RuntimeError("the forwarder did not catch up within 600 s")
        t_zero, cursor_zero, _ = zero
        proc_cpu = time.process_time() - proc_cpu0
        # after lag 0: a few seconds of steady state again
        await watch_until(time.monotonic() + 3)
        after_lags = [m - c for t, c, m in trace if t > t_zero]
    finally:
        stop.set()
        await asyncio.gather(ingest_task, return_exceptions=True)
        fw_task.cancel()
        await asyncio.gather(fw_task, return_exceptions=True)
    ingest_rate = appended[0] / (time.monotonic() - t_start)
    drained = cursor_zero - cursor_first
    catch_rate = drained / (t_zero - t_first) if t_zero > t_first else float("nan")
    backlog_at_first = max_first - cursor_up
    print(f"  first batch acknowledged {t_first - t_up:.2f} s after the TSDB came back (retry backoff); "
          f"lag 0 after {t_zero - t_up:.2f} s", flush=True)
    return {
        "outage_s": round(t_up - t_down, 2),
        "ingest_rate_target": args.ingest_rate,
        "ingest_rate_achieved": round(ingest_rate, 1),
        "steady_max_lag_before": max(steady_lags, default=0),
        "steady_max_lag_after": max(after_lags, default=0),
        "cursor_at_outage_start_lag": max_down - cursor_down,
        "backlog_at_tsdb_return": max_up - cursor_up,
        "backlog_at_first_ack": backlog_at_first,
        "retries_during_outage": retries_during_outage,
        "retry_wait_s": round(t_first - t_up, 3),
        "catch_up_samples": drained,
        "catch_up_seconds": round(t_zero - t_first, 3),
        "catch_up_rate": round(catch_rate, 1),
        "net_backlog_reduction_rate": round(catch_rate - ingest_rate, 1),
        "time_to_lag0_from_tsdb_return_s": round(t_zero - t_up, 3),
        "time_to_lag0_from_first_ack_s": round(t_zero - t_first, 3),
        "effective_rate_from_tsdb_return": round((cursor_zero - cursor_up) / (t_zero - t_up), 1),
        "process_cpu_seconds_outage_to_lag0": round(proc_cpu, 2),
        "retry_settings": {"initial_s": fw.settings.retry_initial_s, "max_s": fw.settings.retry_max_s,
                           "jitter": 0.2},
        "note": "catch_up_rate = samples acknowledged from the first acknowledged batch after the TSDB's return "
                "until lag 0 (cursor = newest committed seq), divided by that time; new samples arrive "
                "throughout. retry_wait_s is the forwarder's backoff sleep outlasting the outage.",
    }


# ---------------------------------------------------------------- 3. MQTT rate


def build_raw_messages(samples: Sequence[Sample], meta: dict[str, PointMeta],
                       prefix: str) -> Iterator[tuple[str, bytes]]:
    """What a hand-written paho publisher does per sample: a topic and a JSON document with the same keys
    as the gateway's payload, timestamps formatted with datetime.isoformat, json.dumps."""
    topics: dict[str, str] = {}
    for seq, s in enumerate(samples, 1):
        m = meta[s.point]
        topic = topics.get(s.point)
        if topic is None:
            topic = topics[s.point] = f"{prefix}/{m.asset}/{m.submodel}/{m.path.replace('.', '/')}"
        ts = datetime.fromtimestamp(s.ts / 1e9, UTC).isoformat().replace("+00:00", "Z")
        src = datetime.fromtimestamp(s.source_ts / 1e9, UTC).isoformat().replace("+00:00", "Z") \
            if s.source_ts is not None else None
        yield topic, json.dumps({
            "value": s.value, "timestamp": ts, "sourceTimestamp": src, "serverTimestamp": None,
            "status": "Good" if s.status == 0 else "Bad", "statusCode": s.status,
            "quality": "good" if s.status == 0 else "bad", "semanticId": m.semantic_id, "unit": m.unit,
            "historical": False, "seq": seq}).encode()


def raw_mqtt(port: int, messages: Iterable[tuple[str, bytes]], n: int, inflight: int, r: int) -> dict[str, Any]:
    """The baseline: a paho client with loop_start publishing the messages at QoS 1, until every PUBACK.

    `messages` may be a generator: then building each payload is inside the timed loop, as in a real
    publisher; a list of pre-built payloads measures paho and the broker alone (the informative ceiling).
    """
    acks = [0]
    done, connected = threading.Event(), threading.Event()
    receive_max = [inflight]

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        rm = getattr(props, "ReceiveMaximum", None)
        if rm:
            receive_max[0] = int(rm)
        connected.set()

    def on_publish(client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        acks[0] += 1
        if acks[0] >= n:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{r}", protocol=mqtt.MQTTv5)
    c.on_connect, c.on_publish = on_connect, on_publish
    c.max_inflight_messages_set(inflight)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError("raw paho client did not connect")
        # like the publisher: never exceed the broker's Receive Maximum (mosquitto: 20)
        c._max_inflight_messages = min(inflight, receive_max[0])
        c0, b0 = time.process_time(), machine_busy_seconds()
        t0 = time.perf_counter()
        for topic, body in messages:
            c.publish(topic, body, 1)
        if not done.wait(300):
            raise RuntimeError(f"raw paho client: {acks[0]} of {n} acknowledged")
        t1 = time.perf_counter()
        c1, b1 = time.process_time(), machine_busy_seconds()
    finally:
        c.disconnect()
        c.loop_stop()
    return {"messages": n, "seconds": round(t1 - t0, 4), "rate": round(n / (t1 - t0), 1),
            "cpu_seconds": round(c1 - c0, 3), "machine_busy_cores": round((b1 - b0) / (t1 - t0), 2),
            "inflight": min(inflight, receive_max[0])}


async def mqtt_rate(peers: Peers, meta: dict[str, PointMeta], samples: list[Sample], tmp: Path,
                    args: argparse.Namespace) -> dict[str, Any]:
    n = min(args.mqtt_samples, len(samples))
    subset = samples[:n]
    h = await open_filled_historian(tmp / "historian-mqtt.sqlite", meta, subset)
    try:
        port, proc = peers.start_broker()
        broker = BrokerConfig(host="127.0.0.1", port=port)
        cfg = MqttPublisherConfig(broker=broker, qos=1, payload="per_point")
        # the exact messages the publisher sends: same topics, same payload bytes (seq = position)
        historical_before = time.time_ns() - int(HISTORICAL_AFTER_S * 1e9)
        messages = []
        for i, s in enumerate(subset):
            m = meta[s.point]
            messages.append((mqtt_topics.point_topic(cfg.topic_prefix, m.asset, m.submodel, m.path),
                             mqtt_payload.point_payload(Record(i + 1, s), m, s.received_ts < historical_before)))
        sizes = [len(b) for _, b in messages]
        raws: list[dict[str, Any]] = []
        fws: list[dict[str, Any]] = []
        ceils: list[dict[str, Any]] = []
        for r in range(args.rounds):
            # the order alternates (reversed in even rounds), so neither side always runs first
            for kind in ("raw", "forwarder", "ceiling") if r % 2 == 0 else ("ceiling", "forwarder", "raw"):
                quiet = await asyncio.to_thread(wait_quiet, args.quiet_wait)
                bc0 = cpu_of(proc.pid)
                if kind == "raw":
                    res = await asyncio.to_thread(raw_mqtt, port, build_raw_messages(subset, meta, cfg.topic_prefix),
                                                  n, cfg.max_inflight, r)
                elif kind == "ceiling":
                    res = await asyncio.to_thread(raw_mqtt, port, messages, n, cfg.max_inflight, r)
                else:
                    pub = MqttPublisher(f"mqtt-{r}", cfg, meta, GATEWAY_ID)
                    await pub.start()
                    deadline = time.monotonic() + 10
                    while not pub._connected:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"MqttPublisher did not connect: {pub.health().last_error}")
                        await asyncio.sleep(0.01)
                    await asyncio.sleep(0.2)  # let the birth messages go
                    res = await drain(f"mqtt-{r}", PreStarted(pub), h, n)
                    res["messages"] = res.pop("samples")
                    res["inflight"] = pub._client._max_inflight_messages if pub._client else None
                res["broker_cpu_seconds"] = round(cpu_of(proc.pid) - bc0, 3)
                res["machine_busy_cores_before"] = quiet
                {"raw": raws, "forwarder": fws}.get(kind, ceils).append(res)
                print(f"  round {r + 1} {kind:9s}: {res['rate']:>10,.0f} messages/s  ({res['seconds']:.2f} s, "
                      f"process CPU {res['cpu_seconds']:.2f} s, mosquitto CPU {res['broker_cpu_seconds']:.2f} s, "
                      f"in flight {res['inflight']})", flush=True)
    finally:
        await h.close()
    raw_rate = statistics.median(x["rate"] for x in raws)
    fw_rate = statistics.median(x["rate"] for x in fws)
    ratio = fw_rate / raw_rate
    return {
        "messages": n, "qos": 1, "payload": "per_point", "protocol": "MQTT 5",
        "baseline": "raw paho publisher building each JSON payload (same keys) with json.dumps and isoformat",
        "payload_bytes_mean": round(statistics.fmean(sizes), 1), "payload_bytes_min": min(sizes),
        "payload_bytes_max": max(sizes),
        "raw_paho": {"rounds": raws, "median_rate": raw_rate},
        "forwarder_mqtt_publisher": {"rounds": fws, "median_rate": fw_rate},
        "ratio_forwarder_over_raw": round(ratio, 3),
        "informative_ceiling_prebuilt_payloads": {
            "rounds": ceils, "median_rate": statistics.median(x["rate"] for x in ceils)},
        "target": "forwarder rate >= 0.7 x raw paho rate",
        "target_met": ratio >= 0.7,
    }


# ---------------------------------------------------------------- profiling


def top_costs(profile: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    st = pstats.Stats(profile, stream=out)
    st.sort_stats("cumulative").print_stats(limit)
    st.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


async def profile_drain(peers: Peers, kind: str, h: Historian, meta: dict[str, PointMeta], samples: list[Sample],
                        tmp: Path, args: argparse.Namespace) -> None:
    """One forwarder drain under cProfile (main thread only: the sink's worker threads are not profiled)."""
    prof = cProfile.Profile()
    if kind == "influx":
        url, proc = peers.start_vm("vm-profile")
        sink = InfluxSink("influx-profile", influx_cfg(url), meta)
        await sink.start()
        # the sink's work runs in its two threads (encoding, posting): profile each thread's function too
        encode_prof, post_prof = cProfile.Profile(), cProfile.Profile()
        encode, post = sink._encode, sink._send_sync

        def profiled_encode(records: Sequence[Record]) -> Any:
            encode_prof.enable()
            try:
                return encode(records)
            finally:
                encode_prof.disable()

        def profiled_post(encoded: Any) -> SendResult:
            post_prof.enable()
            try:
                return post(encoded)
            finally:
                post_prof.disable()

        sink._encode = profiled_encode  # type: ignore[method-assign]
        sink._send_sync = profiled_post  # type: ignore[method-assign,assignment]
        res = await drain("influx-profile", PreStarted(sink), h, len(samples), prof)
        stop_victoria_metrics(proc)
        print(f"profiled drain: {res['rate']:,.0f} points/s (slower under the profiler)")
        print("=== event loop thread ===")
        print(top_costs(prof))
        print("=== InfluxSink encoding thread ===")
        print(top_costs(encode_prof))
        print("=== InfluxSink posting thread ===")
        print(top_costs(post_prof))
    else:
        n = min(args.mqtt_samples, len(samples))
        h2 = await open_filled_historian(tmp / "historian-mqtt-profile.sqlite", meta, samples[:n])
        port, proc = peers.start_broker()
        pub = MqttPublisher("mqtt-profile", MqttPublisherConfig(broker=BrokerConfig(host="127.0.0.1", port=port)),
                            meta, GATEWAY_ID)
        await pub.start()
        while not pub._connected:  # noqa: ASYNC110 (set by paho's thread)
            await asyncio.sleep(0.01)
        res = await drain("mqtt-profile", PreStarted(pub), h2, n, prof)
        await h2.close()
        print(f"profiled drain: {res['rate']:,.0f} messages/s (slower under the profiler)")
        print(top_costs(prof))


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace, tmp: Path, peers: Peers) -> dict[str, Any]:
    meta = make_points(args.points)
    t0 = time.perf_counter()
    samples = make_samples(meta, args.samples, seed=1)
    h = await open_filled_historian(tmp / "historian.sqlite", meta, samples)
    types = {t: sum(1 for m in meta.values() if m.value_type == t) for t in ("xs:double", "xs:int", "xs:boolean")}
    print(f"historian pre-filled with {len(samples):,} samples of {len(meta):,} points {types} "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        if args.profile:
            await profile_drain(peers, args.profile, h, meta, samples, tmp, args)
            return {}
        result: dict[str, Any] = {}
        if "influx" in args.only:
            print("1. InfluxDB forwarding rate (VictoriaMetrics /api/v2/write, fresh database per measurement)")
            result["influx_rate"] = await influx_rate(peers, h, meta, samples, args)
        if "mqtt" in args.only:
            print("3. MQTT forwarding rate (Mosquitto, QoS 1, per_point)")
            result["mqtt_rate"] = await mqtt_rate(peers, meta, samples, tmp, args)
        if "outage" in args.only:
            print(f"2. catch-up after a {args.outage:g} s TSDB outage, ingesting {args.ingest_rate:,.0f} samples/s")
            result["catch_up"] = await catch_up(peers, h, meta, args)
        return result
    finally:
        await h.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200_000, help="samples in the historian (InfluxDB rate)")
    ap.add_argument("--points", type=int, default=1000, help="points (multiple of 100: 100 per asset)")
    ap.add_argument("--mqtt-samples", type=int, default=50_000, help="samples (messages) for the MQTT rate")
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the TSDB is down")
    ap.add_argument("--ingest-rate", type=float, default=5000.0, help="samples/s appended during the outage phase")
    ap.add_argument("--steady", type=float, default=5.0, help="seconds of steady forwarding before the outage")
    ap.add_argument("--rounds", type=int, default=3, help="raw/forwarder pairs per rate measurement (median)")
    ap.add_argument("--quiet-wait", type=float, default=3.0,
                    help="before each rate measurement wait up to this many s for an idle machine")
    ap.add_argument("--only", nargs="+", choices=("influx", "outage", "mqtt"), default=["influx", "outage", "mqtt"])
    ap.add_argument("--profile", choices=("influx", "mqtt"),
                    help="profile one forwarder drain instead, print top costs")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    # the forwarder logs each outage and retry at WARNING/ERROR: expected here
    logging.getLogger("gateway.forwarder").setLevel(logging.CRITICAL)
    logging.getLogger(influx_sink_module.__name__).setLevel(logging.CRITICAL)

    def on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-forward-") as tmp_s:
        tmp = Path(tmp_s)
        peers = Peers(tmp)
        try:
            result = asyncio.run(run(args, tmp, peers))
        finally:
            peers.stop_all()
    if args.profile:
        return 0
    wall = time.perf_counter() - started
    doc: dict[str, Any] = {
        "benchmark": "forward", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "settings": {"samples": args.samples, "points": args.points, "point_types": "60% xs:double, 25% xs:int, "
                     "15% xs:boolean; 0.2% of samples BadNoData without value", "batch_size": BATCH,
                     "mqtt_samples": args.mqtt_samples, "outage_s": args.outage, "ingest_rate": args.ingest_rate,
                     "rounds": args.rounds, "historian": "SQLite, synchronous=full, 200 ms group commit",
                     "influx": {"measurement": MEASUREMENT, "precision": "ms",
                                "tags": list(influx_cfg("http://x").tags), "gzip": False},
                     "peers_on_loopback": True},
        **result,
        "wall_seconds": round(wall, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print()
    print("summary")
    if "influx_rate" in result:
        ir = result["influx_rate"]
        b = ir["baselines"]
        print(f"  InfluxDB: forwarder {ir['forwarder_influx_sink']['median_rate']:,.0f} points/s; baselines (one joined"
              f" body per batch): raw {b['raw']['median_rate']:,.0f}, sqlite {b['sqlite']['median_rate']:,.0f}"
              f" points/s; forwarder / strongest ({ir['strongest_baseline']})"
              f" {ir['ratio_forwarder_over_strongest']:.2f}"
              f" (per round {ir['ratio_forwarder_over_strongest_per_round']}; target 0.9:"
              f" {'met' if ir['target_met'] else 'MISSED'})")
    if "catch_up" in result:
        cu = result["catch_up"]
        print(f"  catch-up after {cu['outage_s']:.0f} s outage at {cu['ingest_rate_achieved']:,.0f} samples/s ingest: "
              f"backlog {cu['backlog_at_first_ack']:,}, retry wait {cu['retry_wait_s']:.1f} s, catch-up rate "
              f"{cu['catch_up_rate']:,.0f} samples/s (net {cu['net_backlog_reduction_rate']:,.0f}/s), lag 0 "
              f"{cu['time_to_lag0_from_tsdb_return_s']:.1f} s after the TSDB's return "
              f"({cu['time_to_lag0_from_first_ack_s']:.1f} s after the first ack)")
    if "mqtt_rate" in result:
        mr = result["mqtt_rate"]
        print(f"  MQTT: forwarder {mr['forwarder_mqtt_publisher']['median_rate']:,.0f} messages/s, raw paho "
              f"{mr['raw_paho']['median_rate']:,.0f} messages/s, ratio {mr['ratio_forwarder_over_raw']:.2f} "
              f"(target 0.7: {'met' if mr['target_met'] else 'MISSED'})")
    print(f"  wall time {wall:.0f} s  ->  {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
