"""uvicorn's two HTTP/1.1 protocols (httptools, h11) with the limits they leave out, and Results for errors.

What uvicorn offers does not cover a client that opens a connection and sends nothing, or half a
request head: its keep-alive timeout only starts after a first response, so such connections stayed
open for minutes. It also answers a malformed request with a plain-text 400, counts idle kept-alive
connections into `limit_concurrency` with a plain-text 503, and puts no bound on the request head
with httptools (the URL and headers grow without limit). The subclasses here add, for both parsers
alike:

* a head timeout: from the moment a connection opens, or a response has been sent on it, the next
  request line and headers must be complete within `head_timeout_s`; a partial head then gets a 408
  Result, a connection that sent nothing is closed without a word (there is no request to answer);
* a head size bound (`max_head_bytes`): 431 Result;
* an AAS `Result` body (JSON) for every error the protocol itself answers: a malformed request line
  or header (400, with the parser's reason), bytes that are not ASCII in the request target (400,
  where uvicorn's h11 path raised and dropped the connection), the connection limit (503);
* a connection limit (`max_connections`): a request on a connection opened beyond it gets 503 and
  the connection is closed;
* a lingering close: when a response ends a connection while the client is still sending its body
  (413 for a body beyond the limit, 408), the connection is half-closed after the response and what
  still arrives is read and dropped for up to `LINGER_S`, as nginx does. Closing at once with unread
  data makes the kernel answer with a reset, and a client still writing a 10 MB body (httpx, for
  one) then loses the 413 it was sent and sees only a broken connection.

The body's own limits (size, time) are enforced per request in `gateway/api/transport.py`. Only
documented behaviour of uvicorn's classes is relied on where possible; the httptools subclass
re-implements `data_received` (a dozen lines of uvicorn's) to learn the parser's reason for an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
import httptools
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.api.errors import result_body
from gateway.api.security_headers import CSP_API
from gateway.auth.config import ApiLimitsConfig

log = logging.getLogger(__name__)

LINGER_S = 2.0
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large",
            503: b"Service Unavailable"}


def result_bytes(status: int, text: str, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A complete HTTP/1.1 response with a Result body that closes the connection."""
    body = json.dumps(result_body(text, str(status))).encode()
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Error")),
            b"content-type: application/json", b"content-length: %d" % len(body), b"connection: close",
            b"x-content-type-options: nosniff", b"content-security-policy: " + CSP_API]
    head += [name + b": " + value for name, value in extra_headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _EveryMinute:
    """At most one log line a minute for a refusal a flood could repeat thousands of times a second."""

    def __init__(self) -> None:
        self._last = -60.0
        self._since = 0

    def warning(self, now: float, msg: str, *args: Any) -> None:
        self._since += 1
        if now - self._last >= 60:
            log.warning(msg + " (%d such refusals in the last minute)", *args, self._since)
            self._last, self._since = now, 0


_connection_limit_log = _EveryMinute()


async def _service_unavailable(scope: Any, receive: Any, send: Any) -> None:
    body = json.dumps(result_body("Too many open connections to the gateway's API "
                                  "(api.limits.max_connections): try again later", "503")).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                            (b"connection", b"close"), (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": body})


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: `close()` lingers while a request body is still coming."""

    def __init__(self, transport: asyncio.Transport, protocol: _Limits) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        t = self._transport
        if self._protocol.body_pending() and not t.is_closing() and t.can_write_eof():
            t.write_eof()  # the response is out; the client reads it, then end of stream
            self._protocol.start_discarding()
            t.resume_reading()  # flow control may have paused it
            self._protocol.loop.call_later(LINGER_S, t.close)
        else:
            t.close()


class _Limits:
    """The parts common to both parsers; `limits` is set on the class `protocol_class` makes."""

    limits: ApiLimitsConfig
    # provided by the uvicorn protocol class this is mixed into
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    connections: set[Any]
    cycle: Any
    app: Any

    def _lingering(self, transport: asyncio.Transport) -> asyncio.Transport:
        self._discarding = False
        self._raw_transport = transport
        return _LingeringTransport(transport, self)  # type: ignore[return-value]

    def body_pending(self) -> bool:
        """A request's body is still arriving (its message is not complete)."""
        return self.cycle is not None and bool(self.cycle.more_body)

    def start_discarding(self) -> None:
        self._discarding = True
        self._cancel_head_timer()

    def _discarded(self, data: bytes) -> bool:
        """While lingering, everything received is dropped unparsed."""
        return self._discarding

    def _limits_connection_made(self) -> None:
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        self._seen_bytes = False
        self._error: tuple[int, str] | None = None
        if len(self.connections) > self.limits.max_connections:
            self.app = _service_unavailable  # this connection's requests only
            _connection_limit_log.warning(self.loop.time(), "API connection limit reached (%d open): answering 503",
                                          len(self.connections))
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._awaiting_head = True
        self._head_bytes = 0
        self._seen_bytes = False
        self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_complete(self) -> None:
        self._awaiting_head = False
        self._cancel_head_timer()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._awaiting_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served (pipelined after the last response); its body has its own limit
        if self._seen_bytes:
            self._refuse(408, f"The request head did not arrive within {self.limits.head_timeout_s:g} s "
                              "(api.limits.head_timeout_s)")
        else:
            self.transport.close()

    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.limits.max_head_bytes:
            self._error = (431, f"The request line and headers are larger than {self.limits.max_head_bytes} "
                                "bytes (api.limits.max_head_bytes)")
            raise _HeadTooLarge

    def _refuse(self, status: int, text: str) -> None:
        """Answer an error the protocol found itself with a Result, and close."""
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.transport.write(result_bytes(status, text))
            self.transport.close()


class _HeadTooLarge(Exception):
    pass


class GuardedHttpToolsProtocol(_Limits, HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(self._lingering(transport))
        self._limits_connection_made()

    def eof_received(self) -> None:
        if self._discarding:
            self._raw_transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, but keeping the parser's reason for an error (and our head-size refusal)
        if self._discarded(data):
            return
        self._unset_keepalive_if_required()
        self._seen_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Protocol upgrades (WebSocket) are not served here")
        except httptools.HttpParserError as e:
            status, text = self._error or (400, _parser_reason(e))
            self._refuse(status, text)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._error = None

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_complete()
        try:
            super().on_headers_complete()
        except UnicodeDecodeError:
            self._error = (400, "The request target holds bytes that are not ASCII: percent-encode them")
            raise

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:  # no pipelined request started
            self._arm_head_timer()


class _RecordingConnection(h11.Connection):
    """h11's connection, remembering why it refused the client's bytes (uvicorn drops the reason).

    h11 bounds only an *incomplete* head (`max_incomplete_event_size`); a large head that arrives in
    one read passes, so the size of each complete head is checked here as well.
    """

    last_error: h11.RemoteProtocolError | None = None

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                size = len(event.method) + len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
                if size > self.max_head_bytes:
                    raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
            return event
        except h11.RemoteProtocolError as e:
            self.last_error = e
            raise


class GuardedH11Protocol(_Limits, H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # h11 bounds the head itself (max_incomplete_event_size = max_head_bytes) and says 431
        self.conn = _RecordingConnection(self.limits.max_head_bytes)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(self._lingering(transport))
        self._limits_connection_made()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._discarding:
            self._raw_transport.close()

    def data_received(self, data: bytes) -> None:
        if self._discarded(data):
            return
        self._seen_bytes = True
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        try:
            super().handle_events()
        except UnicodeDecodeError:  # uvicorn decodes the target as ASCII without a guard
            self._refuse(400, "The request target holds bytes that are not ASCII: percent-encode them")
            return
        if self.cycle is not before:
            self._head_complete()

    def send_400_response(self, msg: str) -> None:
        error = self.conn.last_error if isinstance(self.conn, _RecordingConnection) else None
        if error is not None and error.error_status_hint == 431:
            self._refuse(431, f"The request line and headers are larger than {self.limits.max_head_bytes} bytes "
                              "(api.limits.max_head_bytes)")
        else:
            self._refuse(400, f"Invalid HTTP request: {error}" if error is not None else msg)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()


def _parser_reason(e: Exception) -> str:
    cause = e.__context__ or e.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "The request target holds bytes that are not ASCII: percent-encode them"
    return f"Invalid HTTP request: {e}" if str(e) else "Invalid HTTP request"


def protocol_class(http: str, limits: ApiLimitsConfig) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http=` with these limits ("httptools" or "h11")."""
    base = GuardedHttpToolsProtocol if http == "httptools" else GuardedH11Protocol
    return type(base.__name__, (base,), {"limits": limits})
