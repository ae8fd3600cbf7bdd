"""Helpers for the dashboard tests: a real gateway on a free port (tests/auth/conftest.py), signed-in clients."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.conftest import GatewayFactory, free_port, gateway, gateway_config, new_key  # noqa: F401

__all__ = ["base", "free_port", "gateway", "gateway_config", "new_key", "sign_in"]


async def sign_in(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    """Sign in with an API key the way the page does; returns the session (with its CSRF token)."""
    r = await http.post("/ui/auth/login", json={"apiKey": key})
    assert r.status_code == 200, r.text
    return r.json()


def base(gw: Any) -> str:
    """http://127.0.0.1:PORT of a started gateway's API server."""
    assert gw.api is not None
    return str(gw.api.base_url)
