"""Every error the API returns is an AAS Part 2 `Result` body, whatever raised it.

aas-test-engines rejects error bodies with any key beyond `messages`, and clients
of AAS servers parse `Result` only, so FastAPI's own 404/405/422 bodies and
unexpected exceptions are all rewritten here.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

log = logging.getLogger(__name__)

_DEFAULT_TEXT = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 500: "Internal server error"}
MAX_TEXT = 1000  # characters of a Result text: whatever a client sent is quoted at most this far
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# response headers an error keeps: the methods a resource takes, and that the connection ends
_KEPT_HEADERS = frozenset({"allow", "connection"})


class ApiError(Exception):
    """Raise anywhere in a handler to answer with `status` and a one-message Result."""

    def __init__(self, status: int, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code or str(status)


class NotFound(ApiError):
    def __init__(self, text: str) -> None:
        super().__init__(404, text)


class BadRequest(ApiError):
    def __init__(self, text: str) -> None:
        super().__init__(400, text)


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def excerpt(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters (the rest counted, never echoed), lone surrogates replaced."""
    text = _LONE_SURROGATE.sub("\ufffd", text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def result_body(text: str, code: str) -> dict[str, list[dict[str, str]]]:
    return {"messages": [{"code": code[:32], "messageType": "Error", "text": excerpt(text, MAX_TEXT),
                          "timestamp": _timestamp()}]}


def error_response(status: int, text: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(result_body(text, code or str(status))).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.text, exc.code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    text = exc.detail if isinstance(exc.detail, str) else _DEFAULT_TEXT.get(exc.status_code, "Error")
    if exc.status_code == 404 and text == "Not Found":
        text = f"No such resource: {request.url.path}"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in _KEPT_HEADERS}
    if exc.status_code == 405:
        # Starlette names the methods of the first route matching the path only; a path served by a
        # GET route and a PATCH route must say both
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    return error_response(exc.status_code, text, headers=headers or None)


def allowed_methods(app: Any, scope: Any) -> list[str]:
    """Every method some route takes for the request's path (HEAD wherever GET), in a fixed order.

    Asked of the routes as the router asks them (`matches` with each method), which also sees the
    routes of included routers."""
    methods = {m for m in _METHOD_ORDER
               if any(route.matches({**scope, "method": m})[0] is Match.FULL for route in app.router.routes)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods, key=lambda m: (_METHOD_ORDER.index(m) if m in _METHOD_ORDER else len(_METHOD_ORDER), m))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return error_response(400, "; ".join(parts) or "Invalid request")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return error_response(500, f"Internal server error ({type(exc).__name__})")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
