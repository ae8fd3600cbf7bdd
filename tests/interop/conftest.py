"""Fixtures for the interop tests: the gateway against an OPC UA server that is not asyncua.

`nodeopcua` starts node-opcua servers (tests/interop/nodeopcua/server.js) on free loopback ports, each
with its own PKI folder, and stops them at teardown; a test restarts one on the same port with
`await server.arestart()`. Config helpers build on tests/integration/conftest.py (the server object has
the `endpoint` and `namespace_uri` a simulator has), and the historian helpers read back what was stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from connectors import status as st
from connectors.opcua.pki import Pki
from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.historian.records import HistoryRow
from tests.integration.conftest import asset, gateway_config
from tests.interop.nodeopcua_peer import NodeOpcuaServer
from tests.secrets import secret

USERS = {"alice": secret("interop-s3cret-alice")}
SUBMODEL = "OperationalData"

StartServer = Callable[..., Awaitable[NodeOpcuaServer]]


@pytest.fixture
async def nodeopcua(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Factory: `server = await nodeopcua(counters=5, users=USERS, ...)`; every server is stopped at teardown."""
    started: list[NodeOpcuaServer] = []

    async def start(**kwargs: Any) -> NodeOpcuaServer:
        pki = tmp_path / f"nodeopcua-pki-{len(started)}"
        server = NodeOpcuaServer(pki, **kwargs)
        started.append(server)
        return await server.astart()

    yield start
    for server in started:
        await server.astop()


def interop_asset(name: str, server: NodeOpcuaServer, points: dict[str, str], **source: Any) -> dict[str, Any]:
    """An asset reading `points` (server variable name -> configured type) from `server`.

    Sampling interval 0 and a deep server-side queue: the server then offers every change (see
    server.js) and nothing may be lost by configuration, so a count can be exact.
    """
    source.setdefault("queue_size", 1000)
    return asset(name, server, points, **source)


def interop_config(tmp_path: Path, *assets: dict[str, Any], api: bool = False, **historian: Any) -> GatewayConfig:
    cfg = gateway_config(tmp_path, *assets, api=api, **historian)
    # never the cwd's data/pki
    return cfg.with_overrides({"pki.path": tmp_path / "gateway-pki",
                               "pki.application_uri": "urn:test:aas-edge-gateway"})


def trust(cfg: GatewayConfig, server: NodeOpcuaServer) -> None:
    """What an integrator does once per machine: put its certificate into the gateway's trust list."""
    Pki(cfg.pki).add_trusted(server.certificate_pem.read_bytes())  # PEM, as node-opcua writes it


async def stored(gw: Gateway, asset_name: str, path: str) -> list[HistoryRow]:
    """Every committed sample of a point, oldest first."""
    await gw.historian.flush()
    return await gw.historian.query(asset_name, SUBMODEL, path, limit=1_000_000)


async def good_values(gw: Gateway, asset_name: str, path: str) -> list[Any]:
    return [r.value for r in await stored(gw, asset_name, path) if r.status == st.GOOD]


def counter_names(n: int) -> list[str]:
    return [f"Counters.C{i:02d}" for i in range(n)]


async def holds(gw: Gateway, asset_name: str, paths: list[str], value: Any) -> bool:
    """Every point in `paths` has a good sample with `value` committed."""
    for path in paths:
        if value not in await good_values(gw, asset_name, path):
            return False
    return True
