"""HTTP rules for every request before routing: Host, HEAD, and the size and time a body may take.

* An HTTP/1.1 request without `Host` is a 400 Result (RFC 9112 3.2). h11 refuses it itself;
  httptools lets it through, so the rule is here once for both.
* HEAD is answered wherever GET is: the request is routed as GET and the response body dropped (the
  headers, Content-Length included, are the GET's). FastAPI registers GET routes only, and declaring
  HEAD on each would double every operation in the OpenAPI document.
* A body larger than `max_body_bytes` is refused with 413 as soon as that is known: at once when
  Content-Length says so, else when the counted bytes pass it, so nobody ever holds more of it. A
  body that does not arrive within `body_timeout_s` is refused with 408. Both are raised from
  `receive`, that is inside the handler that reads the body (which can audit the attempt); a route
  that never reads its body never pays for it.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import error_response
from gateway.api.request_body import BodyTimeout, BodyTooLarge
from gateway.auth.config import ApiLimitsConfig


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser has refused a bad Content-Length already
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, limits: ApiLimitsConfig) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("http_version") == "1.1" and not any(name == b"host" for name, _ in scope["headers"]):
            await error_response(400, "An HTTP/1.1 request needs a Host header",
                                 headers={"Connection": "close"})(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        await self.app(scope, self._limited(scope, receive), send)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        limit, timeout_s = self.limits.max_body_bytes, self.limits.body_timeout_s
        declared = _declared_length(scope)
        loop = asyncio.get_running_loop()
        received = 0
        deadline: float | None = None
        done = False

        async def receive_limited() -> Message:
            nonlocal received, deadline, done
            if done:  # the body is in: what follows is only the disconnect, which may come any time
                return await receive()
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            if deadline is None:
                deadline = loop.time() + timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTimeout(timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        return receive_limited


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_head
