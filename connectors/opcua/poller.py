"""Cyclic reads for servers or points where subscriptions are not wanted.

Each poll interval gets its own loop on an absolute schedule (start + k x
interval), so it does not drift; a read that overruns skips the missed
ticks and counts them instead of bunching up. Reads are chunked by the
server's MaxNodesPerRead. A sample is emitted only when value, status or
source timestamp differ from the last one, so an unchanged value read a
thousand times is stored once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.opcua.limits import ServerLimits, call_chunked
from connectors.opcua.state import PointState
from connectors.opcua.values import to_sample
from connectors.sample import Sample, now_ns

log = logging.getLogger(__name__)

Deliver = Callable[[list[Sample]], Awaitable[None]]
MarkMissing = Callable[[PointState, int, str], Awaitable[None]]

_MISSING_CODES = {ua.StatusCodes.BadNodeIdUnknown, ua.StatusCodes.BadNodeIdInvalid}


class PollGroup:
    def __init__(self, client: Client, interval_ms: float, points: Sequence[PointState], limits: ServerLimits,
                 deliver: Deliver, mark_missing: MarkMissing, name: str) -> None:
        self._client = client
        self.interval_s = interval_ms / 1000
        self.points = list(points)
        self._limits = limits
        self._deliver = deliver
        self._mark_missing = mark_missing
        self._name = name
        self.polls = 0
        self.overruns = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            await self.poll_once()
            self.polls += 1
            next_t += self.interval_s
            now = loop.time()
            if now > next_t:
                missed = int((now - next_t) / self.interval_s) + 1
                self.overruns += missed
                next_t += missed * self.interval_s
                log.debug("%s: poll overran by %d interval(s)", self._name, missed)
            await asyncio.sleep(next_t - now)

    async def poll_once(self) -> None:
        # missing nodes are read too: a poll is the cheapest retry there is
        active = [p for p in self.points if p.node_id is not None]
        if not active:
            return

        async def call(batch: Sequence[PointState]) -> list[ua.DataValue]:
            params = ua.ReadParameters()
            params.MaxAge = 0
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            for p in batch:
                params.NodesToRead.append(ua.ReadValueId(NodeId=p.node_id, AttributeId=ua.AttributeIds.Value))
            return await self._client.uaclient.read(params)

        def shrink(size: int) -> None:
            self._limits.max_nodes_per_read = size

        results = await call_chunked(active, self._limits.max_nodes_per_read, call, shrink)
        now = now_ns()
        samples: list[Sample] = []
        for p, dv in zip(active, results, strict=True):
            s = to_sample(p.spec.point_id, dv, now, p.convert)
            if s.status in _MISSING_CODES:
                if not p.missing or p.health.status != s.status:
                    await self._mark_missing(p, s.status, "node does not exist on the server")
                continue
            if p.missing:
                p.missing = False
                log.info("%s: point %s is back (%s)", self._name, p.spec.point_id, p.spec.address())
            key = (s.value, s.status, s.source_ts)
            if key == p.last_key:
                continue
            samples.append(s)
        if samples:
            await self._deliver(samples)
