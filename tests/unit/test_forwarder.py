"""Forwarder logic against a real historian and a scripted sink (the peer's behaviour is the input)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from connectors.base import Record, SendResult, TransientError
from connectors.sample import Sample
from gateway.config import HistorianSettings, RetentionConfig
from gateway.forwarder import Forwarder, ForwarderSettings
from gateway.historian import Historian
from tests.conftest import wait_for

P = "M/OperationalData/T"


class ScriptedSink:
    name = "scripted"

    def __init__(self) -> None:
        self.received: list[Record] = []
        self.down = False
        self.reject_values: set[float] = set()
        self.calls = 0
        self.historical: list[bool] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        self.calls += 1
        if self.down:
            raise TransientError("peer down", retry_after_s=0.05)
        bad = [(r, "refused") for r in records if r.sample.value in self.reject_values]
        ok = [r for r in records if r.sample.value not in self.reject_values]
        self.received += ok
        self.historical += [r.sample.received_ts < historical_before_ns for r in ok]
        return SendResult(len(ok), bad)


def _settings(path: Path) -> HistorianSettings:
    return HistorianSettings(path=path, commit_interval_ms=10,
                             retention=RetentionConfig(max_age_days=None, max_size_mb=None))


async def _fill(h: Historian, start: int, n: int, received_ns: int) -> None:
    await h.append([Sample(P, float(i), 10**18 + i, None, received_ns, 0) for i in range(start, start + n)])
    await h.flush()


async def test_outage_stalls_cursor_then_everything_arrives_in_order(tmp_path: Path) -> None:
    sink = ScriptedSink()
    async with Historian(_settings(tmp_path / "h.sqlite")) as h:
        await h.register_series(P, "xs:double", None)
        fw = Forwarder("fw", sink, h, ForwarderSettings(batch_size=100, historical_after_s=5))
        task = asyncio.create_task(fw.run())
        now = time.time_ns()
        await _fill(h, 0, 250, now)
        await wait_for(lambda: len(sink.received) == 250, message="first 250")
        sink.down = True
        await _fill(h, 250, 250, now - 60 * 10**9)  # arrived a minute ago: replays
        await wait_for(lambda: fw.health.state == "retrying", message="retrying")
        assert await h.get_cursor("fw") == 250
        sink.down = False
        await wait_for(lambda: len(sink.received) == 500, message="backlog delivered")
        assert [r.sample.value for r in sink.received] == [float(i) for i in range(500)]
        assert sink.historical == [False] * 250 + [True] * 250
        await wait_for(lambda: fw.health.lag == 0 and fw.health.state == "forwarding", message="caught up")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await h.get_cursor("fw") == 500


async def test_rejected_records_become_dead_letters_and_do_not_stall(tmp_path: Path) -> None:
    sink = ScriptedSink()
    sink.reject_values = {3.0, 7.0}
    async with Historian(_settings(tmp_path / "h.sqlite")) as h:
        await h.register_series(P, "xs:double", None)
        fw = Forwarder("fw", sink, h, ForwarderSettings(batch_size=4))
        task = asyncio.create_task(fw.run())
        await _fill(h, 0, 10, 0)
        await wait_for(lambda: len(sink.received) == 8, message="the good ones")
        await wait_for(lambda: fw.health.cursor == 10, message="cursor past the bad ones")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        dead = await h.dead_letters("fw")
        assert [(d[4], d[6]) for d in dead] == [(3.0, "refused"), (7.0, "refused")]


async def test_restart_resumes_from_the_persisted_cursor(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    first = ScriptedSink()
    async with Historian(_settings(path)) as h:
        await h.register_series(P, "xs:double", None)
        task = asyncio.create_task(Forwarder("fw", first, h, ForwarderSettings(batch_size=50)).run())
        await _fill(h, 0, 100, 0)
        await wait_for(lambda: len(first.received) == 100, message="first run")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await _fill(h, 100, 30, 0)  # arrive while the forwarder is down
    second = ScriptedSink()
    async with Historian(_settings(path)) as h:
        task = asyncio.create_task(Forwarder("fw", second, h, ForwarderSettings(batch_size=50)).run())
        await wait_for(lambda: len(second.received) == 30, message="only what was not acknowledged")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r.sample.value for r in second.received] == [float(i) for i in range(100, 130)]


async def test_new_forwarder_can_start_at_the_newest_sample(tmp_path: Path) -> None:
    sink = ScriptedSink()
    async with Historian(_settings(tmp_path / "h.sqlite")) as h:
        await h.register_series(P, "xs:double", None)
        await _fill(h, 0, 20, 0)
        task = asyncio.create_task(Forwarder("fw", sink, h, ForwarderSettings(start_from="latest")).run())
        await wait_for(lambda: fw_cursor(h), message="cursor created")
        await _fill(h, 20, 5, 0)
        await wait_for(lambda: len(sink.received) == 5, message="only new samples")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def fw_cursor(h: Historian) -> bool:
    return await h.get_cursor("fw") is not None


class PreparingSink(ScriptedSink):
    """Records when batches are prepared and sent; a send waits until the next batch was prepared."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, float]] = []
        self.prepared = asyncio.Event()

    async def prepare(self, records: Sequence[Record]) -> None:
        self.events.append(("prepare", records[0].sample.value))
        self.prepared.set()

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        first = records[0].sample.value
        self.events.append(("send", first))
        if first < 200:  # a backlog: the next batch is prepared while this one is on the wire
            self.prepared.clear()
            await asyncio.wait_for(self.prepared.wait(), 10)
        return await super().send(records, historical_before_ns)


async def test_the_next_batch_is_prepared_while_one_is_sent(tmp_path: Path) -> None:
    sink = PreparingSink()
    async with Historian(_settings(tmp_path / "h.sqlite")) as h:
        await h.register_series(P, "xs:double", None)
        await _fill(h, 0, 300, 0)
        task = asyncio.create_task(Forwarder("fw", sink, h, ForwarderSettings(batch_size=100)).run())
        await wait_for(lambda: len(sink.received) == 300, message="all sent")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sink.events == [("prepare", 0.0), ("send", 0.0), ("prepare", 100.0), ("send", 100.0),
                           ("prepare", 200.0), ("send", 200.0)]
    assert [r.sample.value for r in sink.received] == [float(i) for i in range(300)]
