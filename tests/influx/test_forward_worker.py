"""The forwarder's worker process (gateway.forward_worker) against a real historian and an HTTP write peer.

What must hold: through the worker, the peer receives exactly the lines the gateway would send itself and
the same samples become dead letters with the same reasons (lines the encoder refuses, lines the server
rejects); a worker that dies costs nothing but time; the worker ends with its forwarder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import psutil
import pytest

from connectors.base import PointMeta
from connectors.influx import InfluxConfig, InfluxSink
from connectors.sample import Sample
from connectors.status import BAD_NOT_CONNECTED
from gateway.config import HistorianSettings, RetentionConfig
from gateway.forwarder import Forwarder, ForwarderSettings
from gateway.historian import Historian
from tests.conftest import wait_for
from tests.influx.conftest import FakeInflux, Reply

BASE_NS = 1_700_000_000_000_000_000
POINTS = [("Speed", "xs:double"), ("Count", "xs:unsignedLong"), ("Door", "xs:boolean"), ("Note", "xs:string")]
META = {f"M1/Data/{p}": PointMeta(f"M1/Data/{p}", "M1", "urn:t:aas:M1", "Data", p, vt) for p, vt in POINTS}
SPEED, COUNT, DOOR, NOTE = META


def _samples(n: int) -> list[Sample]:
    out = []
    for i in range(n):
        ts = BASE_NS + i * 1_000_000
        out.append(Sample(SPEED, i * 0.5 if i % 97 else None, ts, None, ts, 0 if i % 97 else BAD_NOT_CONNECTED))
        out.append(Sample(COUNT, 2**64 - 1 if i % 250 == 7 else i, ts, None, ts))  # beyond int64: not encodable
        out.append(Sample(DOOR, i % 3 == 0, ts, None, ts))
        out.append(Sample(NOTE, f'say "hi"\n{i}' + (" BAD" if i % 400 == 11 else ""), ts, None, ts))
    return out


def _reject_bad(lines: list[str]) -> Reply:
    """Like InfluxDB 2: the first line it cannot take, quoted (the sink then drops it and sends the rest)."""
    bad = [ln for ln in lines if "BAD" in ln]
    if not bad:
        return 204, {}, ""
    return 400, {}, f'{{"code": "invalid", "message": "unable to parse \'{bad[0]}\': invalid field format"}}'


async def _historian(path: Path, n: int) -> Historian:
    h = Historian(HistorianSettings(path=path, commit_interval_ms=10,
                                    retention=RetentionConfig(max_age_days=None, max_size_mb=None)))
    await h.open()
    for pid, m in META.items():
        await h.register_series(pid, m.value_type, None)
    await h.append(_samples(n))
    await h.flush()
    return h


def _sink(fake: FakeInflux, name: str) -> InfluxSink:
    cfg = InfluxConfig(type="influxdb", url=fake.url, org="o", bucket="b", timeout_s=10, batch_size=5000)
    return InfluxSink(name, cfg, META)


async def _drain(h: Historian, fake: FakeInflux, name: str, worker: bool, kill_after: int | None = None,
                 ) -> tuple[Forwarder, set[int]]:
    """Forward everything; with `kill_after`, SIGKILL the worker once it delivered that many batches."""
    fw = Forwarder(name, _sink(fake, name), h, ForwarderSettings(batch_size=500, worker_process=worker))
    pids: set[int] = set()
    task = asyncio.create_task(fw.run())
    last = await h.max_seq()
    try:
        async def done() -> bool:
            nonlocal kill_after
            if fw.health.worker_pid:
                pids.add(fw.health.worker_pid)
            if kill_after is not None and fw._worker is not None and fw._worker.batches >= kill_after:
                pid = fw._worker.pid
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    kill_after = None  # once
            return fw.health.cursor == last

        await wait_for(done, timeout=60, interval=0.01, message=f"{name}: cursor at {last}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return fw, pids


async def test_the_worker_sends_what_the_gateway_would_and_files_the_same_dead_letters(
        tmp_path: Path, fake_influx: FakeInflux) -> None:
    fake_influx.respond = _reject_bad
    h = await _historian(tmp_path / "h.sqlite", 2000)
    try:
        fw_in, pids_in = await _drain(h, fake_influx, "in-process", worker=False)
        sent_in, fake_influx.accepted[:] = list(fake_influx.accepted), []
        fw_w, pids_w = await _drain(h, fake_influx, "worker", worker=True)
        sent_w = list(fake_influx.accepted)

        assert fw_in._worker is None and not pids_in
        assert fw_w._worker is not None and fw_w._worker.batches >= 8000 // 500 and len(pids_w) == 1
        assert sent_w == sent_in and len(sent_w) == 8000 - 8 - 5  # 8 beyond int64, 5 rejected by the server
        dead_in = [d[1:] for d in await h.dead_letters("in-process")]
        dead_w = [d[1:] for d in await h.dead_letters("worker")]
        assert dead_w == dead_in and len(dead_w) == 13
        assert {d[1] for d in dead_w} == {COUNT, NOTE}
        assert sum("int64" in d[-1] for d in dead_w) == 8 and sum("HTTP 400" in d[-1] for d in dead_w) == 5
        assert fw_w.health.sent == fw_in.health.sent == len(sent_w)
    finally:
        await h.close()
    # the worker ended with its forwarder
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids_w)


@pytest.mark.slow  # kills a process and waits for the forwarder to carry on
async def test_a_killed_worker_costs_nothing_but_time(tmp_path: Path, fake_influx: FakeInflux,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    h = await _historian(tmp_path / "h.sqlite", 5000)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.forward_worker"):
            fw, pids = await _drain(h, fake_influx, "killed", worker=True, kill_after=3)
        expected = 20_000 - 20  # every sample but those beyond int64
        assert len(fake_influx.accepted) == expected and len(set(fake_influx.accepted)) == expected
        assert len(await h.dead_letters("killed")) == 20
        gone = [r for r in caplog.records if "worker process gone" in r.getMessage()]
        assert len(gone) == 1, [r.getMessage() for r in caplog.records]
        assert "in the gateway's process" in gone[0].getMessage()
        assert len(pids) >= 1 and fw.health.sent == expected
    finally:
        await h.close()
