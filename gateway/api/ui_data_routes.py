"""The dashboard's data: `/ui/api/...` (GET only, so a `reader` may use all of it; the access middleware
decides that, like for every route).

* `session`: who is signed in, the roles, and the session's CSRF token (a same-origin read: another
  site cannot make it, so it cannot learn the token);
* `overview` and `assets/{idShort}`: layout and current values, in the form the live stream carries;
* `assets/{idShort}/timeline?from=&to=`: the state timeline (gateway/ui/timeline.py);
* `stream?view=overview|asset:<idShort>`: the live updates as Server-Sent Events
  (gateway/ui/live.py), one stream per browser; a session that expires ends its stream.

Trends read the AAS history route itself (`…/submodel-elements/{path}/history`), writes go to the
AAS `PATCH …/$value` route and the admin pages to `/admin/...`: the dashboard has no second API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from gateway.api.errors import ApiError, BadRequest, NotFound
from gateway.api.history import parse_time
from gateway.api.ui_auth_routes import session_body
from gateway.auth.principal import Principal
from gateway.ui.index import UiAsset
from gateway.ui.live import UnknownView, dumps, sse
from gateway.ui.timeline import state_timeline

if TYPE_CHECKING:
    from gateway.ui.dashboard import Dashboard

HEARTBEAT_S = 15.0
MAX_TIMELINE_S = 31 * 86400
_NO_STORE = {"Cache-Control": "no-store"}


def _json(body: object) -> Response:
    return Response(dumps(body), media_type="application/json", headers=_NO_STORE)


def ui_data_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(prefix="/ui/api", tags=["dashboard"], include_in_schema=False)
    index, store, hub = dash.index, dash.sessions, dash.hub

    def asset_of(id_short: str) -> UiAsset:
        ua = index.assets.get(id_short)
        if ua is None:
            raise NotFound(f"no asset {id_short[:100]!r}")
        return ua

    @router.get("/session")
    async def session(request: Request) -> Response:
        principal: Principal = request.state.principal
        s = getattr(request.state, "session", None)
        return _json({**session_body(s, principal, store.idle_s), "gateway": dash.gateway.cfg.gateway.name,
                      "oidc": dash.oidc is not None})

    @router.get("/overview")
    async def overview() -> Response:
        return _json(index.overview())

    @router.get("/assets/{id_short}")
    async def asset(id_short: str) -> Response:
        return _json(index.asset(asset_of(id_short)))

    @router.get("/assets/{id_short}/timeline")
    async def timeline(id_short: str, start: Annotated[str | None, Query(alias="from")] = None,
                       end: Annotated[str | None, Query(alias="to")] = None) -> Response:
        ua = asset_of(id_short)
        end_ns = parse_time(end, "to") or time.time_ns()
        start_ns = parse_time(start, "from") or end_ns - 8 * 3600 * 10**9
        if end_ns <= start_ns:
            raise BadRequest("'to' must be after 'from'")
        if end_ns - start_ns > MAX_TIMELINE_S * 10**9:
            raise BadRequest(f"a timeline covers at most {MAX_TIMELINE_S // 86400} days")
        return _json(await state_timeline(index, ua, start_ns, end_ns))

    @router.get("/stream")
    async def stream(request: Request, view: str = "overview") -> Response:
        try:
            client = hub.open(view[:200])
        except UnknownView:
            raise NotFound(f"no view {view[:100]!r} (overview or asset:<idShort>)") from None
        except RuntimeError as e:
            raise ApiError(503, str(e)) from None
        s = getattr(request.state, "session", None)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                while True:
                    if client.queue:
                        yield client.queue.popleft()
                        continue
                    if hub.closed:
                        return
                    if s is not None and not store.alive(s):
                        yield sse("expired", {})
                        return
                    client.wake.clear()
                    try:
                        await asyncio.wait_for(client.wake.wait(), HEARTBEAT_S)
                    except TimeoutError:
                        yield b": ping\n\n"
            finally:
                hub.close_client(client)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={**_NO_STORE, "X-Accel-Buffering": "no"})

    return router
