"""Runs the FastAPI app inside the gateway's own event loop with uvicorn.

One process, one loop: the API reads the live model the pipeline writes,
without copies or locks. The gateway owns signal handling (Ctrl-C must flush
the historian), so uvicorn's own signal capture is switched off. With a TLS
certificate and key it serves HTTPS only (uvicorn's own TLS, no proxy needed).

The HTTP protocol is uvicorn's httptools (C parser, the default) or h11, each with the gateway's
limits added (`gateway/api/http_protocol.py`): head timeout and size, connection limit, Results for
protocol errors. uvicorn's own `limit_concurrency` stays off (it counts idle connections and answers
in plain text); WebSockets are off (no route uses them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from gateway.api.http_protocol import protocol_class
from gateway.auth.config import ApiLimitsConfig, ApiTlsConfig

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    def __init__(self, app: FastAPI, host: str, port: int, tls: ApiTlsConfig | None = None,
                 limits: ApiLimitsConfig | None = None, http: str = "httptools") -> None:
        limits = limits or ApiLimitsConfig()
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", server_header=False, ws="none",
                                http=protocol_class(http, limits), timeout_keep_alive=limits.keepalive_timeout_s,
                                h11_max_incomplete_event_size=limits.max_head_bytes,
                                ssl_certfile=str(tls.certificate) if tls else None,
                                ssl_keyfile=str(tls.private_key) if tls else None)
        self.scheme = "https" if tls else "http"
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None
        self.host = host
        self.port = port

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn calls sys.exit(1) when it cannot bind (it logged why just before); a SystemExit in a
            # task escapes the event loop and would end the whole process without stopping the gateway
            raise OSError(f"the REST API cannot listen on {self.host}:{self._server.config.port} "
                          "(in use, or not an address of this machine: see the error above)") from None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="api-server")
        while not self._server.started:
            if self._task.done():
                task, self._task = self._task, None  # nothing to stop
                await task  # raises the startup error (e.g. port in use)
                raise RuntimeError("API server stopped during startup")
            await asyncio.sleep(0.02)
        sock = self._server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 10)
        except TimeoutError:
            self._server.force_exit = True
            await self._task
        self._task = None
