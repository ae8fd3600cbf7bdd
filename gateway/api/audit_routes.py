"""`GET /admin/audit`: the audit log over REST, filtered, for the dashboard's viewer (role admin).

Reads the current and the rotated files (gateway/audit.py `read_records`) in a worker thread, never
on the event loop: a window of three years is many files. Filters: time window (`from` inclusive,
`to` exclusive; default the last 7 days), `actor` (part of the name, any case), `action` (prefix:
`pki` finds `pki.trust` and `pki.untrust`), `result` (prefix: `error` finds every `error: ...`).
The newest `limit` matching records come first; `truncated` says that more matched.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import JSONResponse, Response

from gateway.api.admin_routes import require_admin
from gateway.api.errors import BadRequest, excerpt
from gateway.audit import parse_ts, read_records

DEFAULT_DAYS = 7
MAX_LIMIT = 5000


def _time(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_ts(text)
    except (ValueError, OverflowError):
        raise BadRequest(f"'{name}' must be an ISO 8601 date or date-time, got {excerpt(text, 80)!r}") from None


def query_audit(path: Path, start: datetime, end: datetime, actor: str | None, action: str | None,
                result: str | None, limit: int) -> dict[str, Any]:
    """The newest `limit` records matching the filters (blocking: run it in a thread)."""
    actor_l = actor.lower() if actor else None
    newest: deque[dict[str, Any]] = deque(maxlen=limit)
    matched = 0
    for rec in read_records(path, start, end):
        if actor_l and actor_l not in str(rec.get("actor", "")).lower():
            continue
        if action and not str(rec.get("action", "")).startswith(action):
            continue
        if result and not str(rec.get("result", "")).startswith(result):
            continue
        matched += 1
        newest.append(rec)
    return {"records": list(reversed(newest)), "matched": matched, "truncated": matched > len(newest),
            "from": start.isoformat().replace("+00:00", "Z"), "to": end.isoformat().replace("+00:00", "Z")}


def audit_router(path: Path) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

    @router.get("/audit", summary="Audit records of a time window, newest first, filtered (current and rotated "
                "files)")
    async def get_audit(
        start: Annotated[str | None, Query(alias="from", description="first instant (inclusive), ISO 8601; "
                                           f"default {DEFAULT_DAYS} days before `to`")] = None,
        end: Annotated[str | None, Query(alias="to", description="last instant (exclusive); default now")] = None,
        actor: Annotated[str | None, Query(max_length=200, description="part of the actor's name")] = None,
        action: Annotated[str | None, Query(max_length=100, description="action prefix, e.g. write, pki, "
                                            "apikey, ui")] = None,
        result: Annotated[str | None, Query(max_length=100, description="result prefix: ok, denied, error, "
                                            "refused, not_found")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
    ) -> Response:
        to = _time(end, "to") or datetime.now(UTC)
        try:
            frm = _time(start, "from") or to - timedelta(days=DEFAULT_DAYS)
        except OverflowError:
            raise BadRequest("'from' must be given for a 'to' this early") from None
        if to <= frm:
            raise BadRequest("'to' must be after 'from'")
        body = await asyncio.to_thread(query_audit, path, frm, to, actor or None, action or None, result or None,
                                       limit)
        return JSONResponse(body)

    return router
