"""Security headers on every response, whoever produced it (routes, the fast path, refusals, errors).

The API serves JSON, so the default policy forbids everything a browser could do with a response;
the Swagger UI page under `/docs` loads its script and style from FastAPI's CDN and runs one inline
script, and gets a policy that allows exactly that. The dashboard (`/` and `/ui/...`) loads its own
scripts, styles and images only, with no inline script or style at all, and talks to this origin
only. HSTS only over HTTPS (over plain HTTP it is ignored by browsers and would only mislead).
Responses to a request with a key or token are not stored by any cache.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COMMON = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer")]
CSP_API = b"default-src 'none'; frame-ancestors 'none'"
CSP_DOCS = (b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            b"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'")
CSP_UI = (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
          b"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000")


def _csp(path: str, docs_paths: tuple[str, ...]) -> bytes:
    if path in docs_paths:
        return CSP_DOCS
    if path == "/" or path.startswith("/ui/"):
        return CSP_UI
    return CSP_API


class SecurityHeaders:
    def __init__(self, app: ASGIApp, docs_paths: tuple[str, ...]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.extend(_COMMON)
                headers.append((b"content-security-policy", _csp(scope["path"], self.docs_paths)))
                if scope.get("scheme") == "https":
                    headers.append(HSTS)
                principal = scope.get("state", {}).get("principal")
                if (principal is not None and principal.method in ("apikey", "jwt")
                        and not any(k == b"cache-control" for k, _ in headers)):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
