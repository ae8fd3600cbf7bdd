"""Routes for the people who run the gateway: liveness, readiness and Prometheus metrics.

They sit beside the AAS API (not under /api/v3.0): they are about the gateway
process, not about assets.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.base import ConnectionState

if TYPE_CHECKING:
    from gateway.app import Gateway


def add_operations_routes(app: FastAPI, gateway: Gateway) -> None:
    @app.get("/health/live", tags=["operations"], summary="Liveness: the process serves requests")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["operations"],
             summary="Readiness: historian writing, sources and forwarders state (503 if the historian fails)")
    async def ready() -> Response:
        sources = {h.name: h.state.value for h in gateway.health()}
        body: dict[str, Any] = {
            "historian": {"healthy": gateway.historian.healthy, "pending": gateway.historian.pending_rows},
            "sources": sources,
            "connected": sum(1 for v in sources.values() if v == ConnectionState.CONNECTED.value),
            "forwarders": {f.name: {"state": f.health.state, "lag": f.health.lag, "last_error": f.health.last_error}
                           for f in gateway.forwarders},
        }
        return Response(json.dumps(body), status_code=200 if gateway.historian.healthy else 503,
                        media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gateway.registry), media_type=CONTENT_TYPE_LATEST)
