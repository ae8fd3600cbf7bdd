"""The dashboard's live updates: one Server-Sent Events stream per browser, fed by the pipeline.

The hub is a pipeline sink (after the live model, so what it reads is what the API shows). Browsers
subscribe to a *view* (the overview, or one asset's page); every view with at least one open stream
is a channel holding the set of points it shows. Per sample the sink does one dictionary lookup
and marks the point dirty in the channels that show it; nothing else happens on the hot path.

Every TICK_S a single task turns each channel's dirty points into one message, encoded once
whatever the number of browsers watching it, and hands the same bytes to each of them; once a
second each channel also gets its status (connection state, last sample time, machine-state
category; the gateway strip for the overview) when it changed. So the cost grows with the number
of views and changes, not with browsers x values, and a change reaches the screen within a tick
plus the network.

A browser that does not keep up (its queue of QUEUE_MAX messages is full) loses the queued
messages and gets a full snapshot of its view instead: memory per browser is bounded and no value
is ever left stale on its screen.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.sample import Sample
from gateway.ui.index import DashboardIndex, UiAsset

TICK_S = 0.25
STATUS_EVERY_S = 1.0
QUEUE_MAX = 32


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("INF" if v > 0 else "-INF")
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def dumps(obj: Any) -> str:
    """Strict JSON (a browser's JSON.parse takes no NaN): non-finite numbers as the "NaN"/"INF" of ValueOnly."""
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_clean(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {dumps(data)}\n\n".encode()


class Client:
    """One open stream: a bounded queue of encoded messages."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.queue: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.resync = False

    def offer(self, msg: bytes) -> None:
        if len(self.queue) >= QUEUE_MAX:
            self.queue.clear()
            self.resync = True
        else:
            self.queue.append(msg)
        self.wake.set()


@dataclass(eq=False)
class Channel:
    key: str
    points: frozenset[str]
    assets: list[UiAsset]
    strip: bool
    dirty: set[str] = field(default_factory=set)
    clients: set[Client] = field(default_factory=set)
    last_status: str | None = None


class UnknownView(LookupError):
    pass


class LiveHub:
    name = "ui-live"

    def __init__(self, index: DashboardIndex) -> None:
        self.index = index
        self._channels: dict[str, Channel] = {}
        self._by_point: dict[str, list[Channel]] = {}
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.messages = 0  # encoded messages (for the benchmark and tests)

    # --- pipeline sink -----------------------------------------------------------------------------

    async def put(self, samples: Sequence[Sample]) -> None:
        by_point = self._by_point
        if not by_point:
            return
        for s in samples:
            chans = by_point.get(s.point)
            if chans is not None:
                for c in chans:
                    c.dirty.add(s.point)

    # --- streams -----------------------------------------------------------------------------------

    def _channel(self, view: str) -> Channel:
        ch = self._channels.get(view)
        if ch is not None:
            return ch
        if view == "overview":
            assets = list(self.index.assets.values())
            points = frozenset(k for a in assets for k in a.overview_points())
            ch = Channel(view, points, assets, strip=True)
        elif view.startswith("asset:") and view[6:] in self.index.assets:
            ua = self.index.assets[view[6:]]
            ch = Channel(view, frozenset(ua.points), [ua], strip=False)
        else:
            raise UnknownView(view)
        self._channels[view] = ch
        for p in ch.points:
            self._by_point.setdefault(p, []).append(ch)
        return ch

    def open(self, view: str) -> Client:
        """A new stream of `view` ("overview" or "asset:<idShort>"); its first message is a full snapshot."""
        if self.closed:
            raise RuntimeError("the dashboard is stopping")
        ch = self._channel(view)
        client = Client(ch)
        ch.clients.add(client)
        client.offer(self.snapshot(ch))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ui-live")
        return client

    def close_client(self, client: Client) -> None:
        ch = client.channel
        ch.clients.discard(client)
        if not ch.clients and self._channels.get(ch.key) is ch:
            del self._channels[ch.key]
            for p in ch.points:
                chans = self._by_point.get(p)
                if chans is not None:
                    chans.remove(ch)
                    if not chans:
                        del self._by_point[p]

    def snapshot(self, ch: Channel) -> bytes:
        status = self._status(ch)
        ch.last_status = status
        return sse("values", {"v": self.index.values(ch.points)}) + f"event: status\ndata: {status}\n\n".encode()

    def _status(self, ch: Channel) -> str:
        body: dict[str, Any] = {"assets": self.index.statuses(ch.assets)}
        if ch.strip:
            body["strip"] = self.index.strip()
        return dumps(body)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_status = loop.time() + STATUS_EVERY_S
        while self._channels and not self.closed:
            await asyncio.sleep(TICK_S)
            status_due = loop.time() >= next_status
            if status_due:
                next_status = loop.time() + STATUS_EVERY_S
            for ch in list(self._channels.values()):
                if ch.dirty:
                    msg = sse("values", {"v": self.index.values(ch.dirty)})
                    ch.dirty.clear()
                    self.messages += 1
                    for c in ch.clients:
                        c.offer(msg)
                if status_due:
                    status = self._status(ch)
                    if status != ch.last_status:
                        ch.last_status = status
                        msg = f"event: status\ndata: {status}\n\n".encode()
                        self.messages += 1
                        for c in ch.clients:
                            c.offer(msg)
                for c in ch.clients:
                    if c.resync and not c.queue:
                        c.resync = False
                        c.offer(self.snapshot(ch))

    def close(self) -> None:
        """End every stream (the gateway is stopping: uvicorn waits for open responses)."""
        self.closed = True
        for ch in self._channels.values():
            for c in ch.clients:
                c.wake.set()
        if self._task is not None:
            self._task.cancel()
