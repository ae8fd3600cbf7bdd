"""Routes for the people who run the gateway: liveness, readiness and Prometheus metrics.

They sit beside the AAS API (not under /api/v3.0): they are about the gateway
process, not about assets. Readiness is strict about data: the gateway is not
ready (503) while its historian cannot write, or while it refused samples in the
last REFUSAL_WINDOW_S (they are in the dead-letter table, but a probe, a load
balancer or a monitoring check must notice); the body says why.

The routes see the gateway through `OperationsView`, the few things they read, so this
module does not import `gateway.app` (which builds the API and would import it back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from connectors.base import ConnectionState, SourceHealth
from gateway.forwarder import ForwarderHealth
from gateway.historian.records import Refusals, WriteCounts

REFUSAL_WINDOW_S = 300.0


class HistorianView(Protocol):
    """What readiness reads of the historian."""

    @property
    def healthy(self) -> bool: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def pending_rows(self) -> int: ...

    def counts(self, asset: str | None = None) -> WriteCounts: ...

    def refusals(self, window_s: float) -> Refusals: ...


class ForwarderView(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def health(self) -> ForwarderHealth: ...


class OperationsView(Protocol):
    """The gateway as the operations routes see it (`gateway.app.Gateway` is one)."""

    @property
    def historian(self) -> HistorianView: ...

    @property
    def forwarders(self) -> Sequence[ForwarderView]: ...

    @property
    def registry(self) -> CollectorRegistry: ...

    def health(self) -> list[SourceHealth]: ...


def readiness(gateway: OperationsView) -> tuple[bool, dict[str, Any]]:
    """(ready, body) of /health/ready."""
    hist = gateway.historian
    counts = hist.counts()
    refused = hist.refusals(REFUSAL_WINDOW_S)
    reasons = []
    if not hist.healthy:
        reasons.append(f"the historian cannot write ({hist.last_error}); {hist.pending_rows} samples are queued "
                       "and retried")
    if refused.count:
        reasons.append(f"the historian refused {refused.count} sample(s) in the last {REFUSAL_WINDOW_S:.0f} s, "
                       f"filed in its dead-letter table (forwarder 'historian'); the latest "
                       f"{refused.seconds_ago or 0:.0f} s ago, {refused.last_point}: {refused.last_reason}")
    sources = {h.name: h.state.value for h in gateway.health()}
    body: dict[str, Any] = {
        "status": "not-ready" if reasons else "ready",
        "reasons": reasons,
        "historian": {"healthy": hist.healthy, "pending": hist.pending_rows, "committed": counts.committed,
                      "deadLettered": counts.dead_lettered, "lost": counts.lost, "refusedRecently": refused.count},
        "sources": sources,
        "connected": sum(1 for v in sources.values() if v == ConnectionState.CONNECTED.value),
        "forwarders": {f.name: {"state": f.health.state, "lag": f.health.lag, "last_error": f.health.last_error}
                       for f in gateway.forwarders},
    }
    return not reasons, body


def add_operations_routes(app: FastAPI, gateway: OperationsView) -> None:
    @app.get("/health/live", tags=["operations"], summary="Liveness: the process serves requests")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["operations"],
             summary="Readiness: 503 while the historian cannot write or refused samples in the last 5 minutes "
                     "(`reasons` says which); historian counts, sources and forwarders state")
    async def ready() -> Response:
        ok, body = readiness(gateway)
        return Response(json.dumps(body), status_code=200 if ok else 503, media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gateway.registry), media_type=CONTENT_TYPE_LATEST)
