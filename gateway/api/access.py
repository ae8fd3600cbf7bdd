"""Authorisation for every request, as one pure ASGI middleware in front of routing.

Deny by default: the rule is a function of method and path, not a per-route decoration, so a route
added later cannot forget it. Only `GET /health/live` passes without credentials (a liveness probe
has none), and the dashboard's page, its static files and its sign-in routes (`GET /`,
`/ui/assets/`, `/ui/auth/`: they hold no data, and sign-in checks what it is given itself). GET/HEAD
need `reader`, anything under `/admin` needs `admin`, every other method needs `operator`. A request
without a key or token may carry the dashboard's session cookie instead (gateway/ui/sessions.py),
which stands for the key or token it was opened with; a write with it also needs the session's CSRF
token. The principal is left in `scope["state"]` (`request.state.principal`) for handlers and the
audit log. Refusals are AAS `Result` bodies: 401 with `WWW-Authenticate: Bearer`, 403 naming the
role. CORS preflights never get here (the CORS middleware sits outside and answers them).
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import error_response
from gateway.auth.config import CorsConfig
from gateway.auth.policy import AccessPolicy, AuthFailure, SessionRefused
from gateway.auth.principal import ANONYMOUS_READER, Role

PUBLIC = frozenset({("GET", "/health/live"), ("HEAD", "/health/live")})
_READ = frozenset({"GET", "HEAD"})
UI_PUBLIC_PREFIXES = ("/ui/assets/", "/ui/auth/")
_NO_CREDENTIAL = ("authentication required: send 'Authorization: Bearer <API key or token>' "
                  "or 'X-API-Key: <API key>'")


def public(method: str, path: str) -> bool:
    if (method, path) in PUBLIC:
        return True
    if path == "/":
        return method in _READ
    return path.startswith(UI_PUBLIC_PREFIXES)


def required_role(method: str, path: str) -> Role:
    if path == "/admin" or path.startswith("/admin/"):
        return "admin"
    return "reader" if method in _READ else "operator"


def credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token or API key of a request ("" for an Authorization header of another scheme)."""
    for name, value in headers:
        if name == b"authorization":
            if value[:7].lower() == b"bearer ":
                return value[7:].strip().decode("latin-1")
            return ""
        if name == b"x-api-key":
            return value.strip().decode("latin-1")
    return None


class AccessControl:
    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # no websocket routes exist; refuse rather than pass unchecked
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if public(method, path):
            await self.app(scope, receive, send)
            return
        cred = credential(scope["headers"])
        if cred == "":
            await _unauthorized("unsupported Authorization scheme (use Bearer)", scope, receive, send, invalid=True)
            return
        principal = None
        if cred is None and self.policy.sessions is not None:
            try:
                principal = await self.policy.sessions.authenticate(scope)
            except SessionRefused as e:
                await error_response(403, str(e))(scope, receive, send)
                return
        try:
            if principal is None:
                principal = await self.policy.authenticate(cred)
        except AuthFailure as e:
            await _unauthorized(str(e), scope, receive, send, invalid=True)
            return
        need = required_role(method, path)
        if principal is None:
            if need == "reader" and self.policy.anonymous_read:
                principal = ANONYMOUS_READER
            else:
                await _unauthorized(_NO_CREDENTIAL, scope, receive, send, invalid=False)
                return
        if need not in principal.roles:
            await error_response(403, f"forbidden: {method} {path} needs the '{need}' role")(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _unauthorized(text: str, scope: Scope, receive: Receive, send: Send, invalid: bool) -> None:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    await error_response(401, text, headers={"WWW-Authenticate": challenge})(scope, receive, send)


def install(app: Any, policy: AccessPolicy, cors: CorsConfig | None) -> None:
    """Access control inside CORS, so preflights need no credentials (the caller adds the outer layers)."""
    app.add_middleware(AccessControl, policy=policy)
    if cors is not None and cors.allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors.allow_origins, allow_methods=cors.allow_methods,
                           allow_headers=cors.allow_headers, max_age=cors.max_age_s, allow_credentials=False)
