"""CORS allow-list and security headers, as a browser would see them over a real socket."""

from __future__ import annotations

import httpx

from gateway.auth.config import CorsConfig
from tests.auth.conftest import GatewayFactory, bearer, new_key

DASHBOARD = "https://dashboard.plant.test"


async def test_cors_allows_only_listed_origins(gateway: GatewayFactory) -> None:
    async with gateway(cors=CorsConfig(allow_origins=[DASHBOARD])) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        shells = f"{gw.api_url}/shells"
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        r = await http.options(shells, headers={"Origin": DASHBOARD, **preflight})
        assert r.status_code == 200  # a preflight carries no credentials and needs none
        assert r.headers["access-control-allow-origin"] == DASHBOARD
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = await http.options(shells, headers={"Origin": "https://evil.test", **preflight})
        assert "access-control-allow-origin" not in r.headers

        key = bearer(new_key(gw.cfg, "reader"))
        r = await http.get(shells, headers={"Origin": DASHBOARD, **key})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == DASHBOARD
        r = await http.get(shells, headers={"Origin": DASHBOARD})  # the browser can read the 401 too
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == DASHBOARD
        r = await http.get(shells, headers={"Origin": "https://evil.test", **key})
        assert "access-control-allow-origin" not in r.headers


async def test_no_cors_unless_configured(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        r = await http.get(f"{gw.api_url}/shells", headers={"Origin": DASHBOARD, **bearer(new_key(gw.cfg, "reader"))})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_security_headers_on_every_response(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        key = bearer(new_key(gw.cfg, "reader"))
        responses = {
            "data": await http.get(f"{gw.api_url}/shells", headers=key),
            "refused": await http.get(f"{gw.api_url}/shells"),
            "liveness": await http.get(f"{gw.api.base_url}/health/live"),
            "not found": await http.get(f"{gw.api_url}/shells/bm9wZQ", headers=key),
            "docs": await http.get(f"{gw.api_url}/docs", headers=key),
        }
        for name, r in responses.items():
            assert r.headers["x-content-type-options"] == "nosniff", name
            assert r.headers["x-frame-options"] == "DENY", name
            assert r.headers["referrer-policy"] == "no-referrer", name
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], name
            assert "strict-transport-security" not in r.headers, name  # plain HTTP here
        assert responses["data"].headers["content-security-policy"].startswith("default-src 'none'")
        docs = responses["docs"]
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert responses["data"].headers["cache-control"] == "no-store"
        assert "cache-control" not in responses["liveness"].headers
