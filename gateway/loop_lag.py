"""How late the event loop runs what is due: the one number that says whether anything blocks collection.

The OPC UA sessions, the pipeline and the REST API share one event loop; a callback that holds it
(a large parse, a synchronous file write) delays every keep-alive and every sample behind it. A
task sleeps a fixed interval and records by how much it woke late, into a Prometheus histogram
(`gateway_event_loop_lag_seconds`) and the largest lag seen (`gateway_event_loop_lag_max_seconds`),
so a stall is visible in production as it is in the tests.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Gauge, Histogram

INTERVAL_S = 0.02
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopLag:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram("gateway_event_loop_lag_seconds", "How late the event loop woke a timer "
                                   f"due every {INTERVAL_S * 1000:.0f} ms", buckets=BUCKETS, registry=registry)
        self.max = Gauge("gateway_event_loop_lag_max_seconds", "Largest event loop lag since the gateway started",
                         registry=registry)
        self.worst = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + INTERVAL_S
            await asyncio.sleep(INTERVAL_S)
            lag = max(0.0, loop.time() - due)
            self.histogram.observe(lag)
            if lag > self.worst:
                self.worst = lag
                self.max.set(lag)
