"""Serves the gateway's AAS REST API for benchmarks/api.py: the model of a config file, no sources.

Builds the repository exactly as the gateway does (`gateway.app.build_model`), gives every point a
typed value with a Good status through `aas_models.live.set_live_value` (what the pipeline does for a
live sample, so the Properties carry the same qualifiers as in operation), and serves
`gateway.api.create_app(repo)` with the gateway's own embedded uvicorn server (`gateway.api_server.ApiServer`:
one process, one worker, the default asyncio loop as under `aas-gateway run`, no access log).

    python benchmarks/gateway_server.py --config deploy/example-config.yaml --port 8080

Prints one JSON line {"ready": true, ...} when listening; stops on SIGTERM/SIGINT. With --trivial it
serves a FastAPI app with a single constant $value route on the same server instead: the ceiling that
FastAPI + uvicorn in one process reach on this machine (benchmarks/api.py --ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from basyx.aas import model
from fastapi import FastAPI, Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aas_models.live import set_live_value  # noqa: E402
from gateway.api import create_app  # noqa: E402
from gateway.api_server import ApiServer  # noqa: E402
from gateway.app import API_BASE_PATH, build_model  # noqa: E402
from gateway.auth.apikeys import ApiKeyStore  # noqa: E402
from gateway.auth.policy import AccessPolicy  # noqa: E402
from gateway.config import load_config  # noqa: E402


def sample_value(prop: model.Property, i: int) -> Any:
    vt = prop.value_type
    if issubclass(vt, bool):
        return False
    if issubclass(vt, int):
        return 40 + i
    if issubclass(vt, float):
        return 1000.0 + i + 0.25
    if issubclass(vt, str):
        return "Running"
    return None


def trivial_app() -> FastAPI:
    """A FastAPI app whose only route answers every $value with a constant: the ceiling for FastAPI here."""
    app = FastAPI()

    @app.get(API_BASE_PATH + "/submodels/{sm}/submodel-elements/{path}/$value")
    async def value(sm: str, path: str) -> Response:
        return Response(b"1004.25", media_type="application/json")

    @app.get(API_BASE_PATH + "/shells")
    async def shells() -> Response:
        return Response(b"[]", media_type="application/json")

    return app


async def serve(args: argparse.Namespace) -> None:
    cfg = load_config(args.config)
    base = f"http://{args.host}:{args.port}{API_BASE_PATH}"
    repo, models = build_model(cfg, base)
    now_ns = time.time_ns()
    n = 0
    for m in models.values():
        for i, prop in enumerate(m.properties.values()):
            if not isinstance(prop, model.Property):
                continue  # lists and structure collections are filled by their first sample
            v = sample_value(prop, i)
            if v is not None:
                set_live_value(prop, v, now_ns, 0)
                n += 1
    # anonymous read: the peers it is compared with (BaSyx) authenticate nobody either; with --api-keys the
    # same server also checks the keys clients send, as an authenticated MES client is served in production
    keys = ApiKeyStore(args.api_keys) if args.api_keys else None
    app = (create_app(repo, base_path=API_BASE_PATH, access=AccessPolicy(api_keys=keys, anonymous_read=True))
           if not args.trivial else trivial_app())
    server = ApiServer(app, args.host, args.port)
    await server.start()
    print(json.dumps({"ready": True, "url": f"{server.base_url}{API_BASE_PATH}", "values_set": n,
                      "loop": type(asyncio.get_running_loop()).__module__,
                      "http": "httptools" if importlib.util.find_spec("httptools") else "h11"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "deploy" / "example-config.yaml")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--trivial", action="store_true",
                    help="serve a one-route FastAPI app (constant $value) instead of the gateway's API")
    ap.add_argument("--api-keys", type=Path, default=None, help="also accept the API keys of this key file")
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop instead of the default asyncio loop")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
