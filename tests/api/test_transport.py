"""The API's transport rules on a real uvicorn, with both HTTP parsers (httptools and h11), over raw sockets.

Whatever the client sends at the HTTP level, the answer is an AAS Result or a closed connection,
never plain text and never a connection held open forever: head and body timeouts, head and body
size limits, a connection limit, Host required, HEAD wherever GET.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.api import create_app
from gateway.api.ids import encode_id
from gateway.api_server import ApiServer
from gateway.auth.config import ApiLimitsConfig
from gateway.value_writer import ValueWriter
from tests.api import model_data as md
from tests.api.open_policy import open_policy
from tests.conftest import wait_for

LIMITS = ApiLimitsConfig(max_body_bytes=4096, max_head_bytes=2048, head_timeout_s=0.5, body_timeout_s=0.5,
                         keepalive_timeout_s=1, max_connections=4)
# A timed-out connection must be closed by the server's own timeout (0.5 s, keep-alive 1 s), where uvicorn
# alone kept it open for minutes. The bound allows 10x the timeout for a loaded 2-core box's scheduling and
# stays far from minutes; exchange() itself gives up after 10 s.
CLOSED_WITHIN_S = 10 * LIMITS.head_timeout_s
KEPT_ALIVE_WITHIN_S = CLOSED_WITHIN_S + LIMITS.keepalive_timeout_s
SM_PATH = f"/api/v3.0/submodels/{encode_id(md.SM_OPS)}"
VALUE_PATH = f"{SM_PATH}/submodel-elements/Spindle.Speed/$value"


@pytest.fixture(params=["httptools", "h11"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ApiServer]:
    # a writer without points: PATCH reads and checks its body, then answers 405 (not writable)
    app = create_app(md.build_repository(), access=open_policy(), limits=LIMITS,
                     writer=ValueWriter({}, {}, None))
    api = ApiServer(app, "127.0.0.1", 0, limits=LIMITS, http=request.param)
    await api.start()
    yield api
    await api.stop()


async def exchange(api: ApiServer, data: bytes, *, wait_s: float = 10.0) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes; (everything read, seconds until the close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    t0 = time.monotonic()
    try:
        if data:
            writer.write(data)
            await writer.drain()
        received = await asyncio.wait_for(reader.read(), wait_s)  # read() = until EOF
        return received, time.monotonic() - t0
    finally:
        writer.close()


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body) if body else None


def assert_result(raw: bytes, status: int, text_has: str = "") -> dict[str, str]:
    got, headers, body = parse(raw)
    assert got == status, raw[:500]
    assert headers["content-type"].startswith("application/json")
    assert list(body) == ["messages"] and body["messages"][0]["code"] == str(status)
    assert text_has in body["messages"][0]["text"], body
    return headers


async def test_head_is_answered_wherever_get_is(server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for path in (SM_PATH, VALUE_PATH, "/api/v3.0/shells", "/api/v3.0/description", "/api/v3.0/openapi.json"):
            get, head = await http.get(path), await http.head(path)
            assert get.status_code == head.status_code == 200, (path, head.status_code)
            assert head.content == b"" and head.headers["content-length"] == get.headers["content-length"]
        # errors too: the same status and headers as GET, without the body
        head = await http.head(f"{SM_PATH}/submodel-elements/Nope")
        assert head.status_code == 404 and head.content == b""


async def test_allow_lists_every_method_of_the_path(server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.delete(VALUE_PATH)  # GET (element routes) and PATCH (write routes) live in two routers
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, PATCH"
        r = await http.post(SM_PATH)
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


async def test_http11_without_host_is_a_result(server: ApiServer) -> None:
    raw, _ = await exchange(server, b"GET /api/v3.0/shells HTTP/1.1\r\n\r\n")
    assert_result(raw, 400, "Host")


@pytest.mark.parametrize("request_line", [
    b"GET /api/v3.0/shells/\xff\xfe HTTP/1.1",  # bytes that are not ASCII in the target
    b"GET /api/v3.0/shells HTTP/1.1 extra",  # a malformed request line
    b"G\x01T /api/v3.0/shells HTTP/1.1",  # a control character in the method
])
async def test_malformed_requests_get_a_result(server: ApiServer, request_line: bytes) -> None:
    raw, _ = await exchange(server, request_line + b"\r\nHost: x\r\n\r\n")
    assert_result(raw, 400)


async def test_bad_header_gets_a_result(server: ApiServer) -> None:
    raw, _ = await exchange(server, b"GET /api/v3.0/shells HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    assert_result(raw, 400)


async def test_a_head_beyond_the_limit_is_431(server: ApiServer) -> None:
    raw, _ = await exchange(server, b"GET /api/v3.0/shells?x=" + b"a" * 4000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_result(raw, 431, "max_head_bytes")
    raw, _ = await exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: " + b"b" * 4000 + b"\r\n\r\n")
    assert_result(raw, 431)


async def test_a_connection_that_sends_nothing_is_closed(server: ApiServer) -> None:
    raw, took = await exchange(server, b"")
    assert raw == b"" and took < CLOSED_WITHIN_S


async def test_a_partial_head_gets_408(server: ApiServer) -> None:
    raw, took = await exchange(server, b"GET /api/v3.0/shells HTTP/1.1\r\nHost: x\r\n")
    assert_result(raw, 408, "head_timeout_s")
    assert took < CLOSED_WITHIN_S


async def test_a_body_that_never_comes_gets_408(server: ApiServer) -> None:
    raw, took = await exchange(server, b"PATCH " + VALUE_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n12")
    assert_result(raw, 408, "body_timeout_s")
    assert took < CLOSED_WITHIN_S


async def test_a_declared_body_beyond_the_limit_is_413_before_it_is_sent(server: ApiServer) -> None:
    # only the head is sent: the answer comes without waiting for 10 MB
    raw, _ = await exchange(server, b"PATCH " + VALUE_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    assert_result(raw, 413, "max_body_bytes")


async def test_a_chunked_body_beyond_the_limit_is_413(server: ApiServer) -> None:
    chunk = b"1000\r\n" + b"1" * 4096 + b"\r\n"
    raw, _ = await exchange(server, b"PATCH " + VALUE_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2)
    assert_result(raw, 413)


async def test_a_client_still_sending_a_large_body_reads_the_413(server: ApiServer) -> None:
    """The server answers 413 early; it lingers, reading and dropping the rest, so the client gets the answer
    instead of a connection reset (httpx writes the whole body before it reads)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        r = await http.patch(VALUE_PATH, content=b'"' + b"a" * 10_000_000 + b'"',
                             headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "max_body_bytes" in r.json()["messages"][0]["text"]
        assert len(r.content) < 1000  # the body is not echoed


async def test_an_idle_kept_alive_connection_is_closed(server: ApiServer) -> None:
    raw, took = await exchange(server, b"GET /api/v3.0/description HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and took < KEPT_ALIVE_WITHIN_S  # closed by the keep-alive timeout


async def test_connections_beyond_the_limit_get_503(server: ApiServer) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(LIMITS.max_connections)]
    try:
        raw, _ = await exchange(server, b"GET /api/v3.0/description HTTP/1.1\r\nHost: x\r\n\r\n")
        headers = assert_result(raw, 503, "max_connections")
        assert headers["connection"] == "close"
    finally:
        for _, w in idle:
            w.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:  # the idle ones were closed: served again

        async def served() -> bool:
            return (await http.get("/api/v3.0/description")).status_code == 200

        await wait_for(served, timeout=10, message="requests served again once the idle connections closed")


def test_the_gateway_serves_with_httptools_by_default_and_names_a_bad_limit() -> None:
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from gateway.config import ConfigError, parse_config

    an_asset = {"id_short": "M1", "id": "urn:x:M1", "global_asset_id": "urn:x:asset:M1",
                "source": {"type": "opcua", "endpoint": "opc.tcp://127.0.0.1:4840/", "security": "auto"},
                "points": [{"node": "s=A", "path": "A", "type": "xs:double"}]}
    cfg = parse_config({"assets": [an_asset]}, env={})
    assert cfg.api.http == "httptools" and cfg.api.limits.max_body_bytes == 65_536
    app = create_app(md.build_repository(), access=open_policy())
    default = ApiServer(app, "127.0.0.1", 0, limits=cfg.api.limits, http=cfg.api.http)
    assert issubclass(default._server.config.http, HttpToolsProtocol)  # type: ignore[arg-type]
    h11 = ApiServer(app, "127.0.0.1", 0, http="h11")
    assert issubclass(h11._server.config.http, H11Protocol)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as e:
        parse_config({"assets": [an_asset], "api": {"limits": {"max_body_bytes": 10, "head_timeout_s": 0}}}, env={})
    assert "api.limits.max_body_bytes" in str(e.value) and "api.limits.head_timeout_s" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config({"assets": [an_asset], "api": {"http": "zttp"}}, env={})
    assert "api.http" in str(e.value)
