"""Acceptance: with no credentials every route of the running gateway answers 401 with a Result body,
except liveness. The route list is the gateway's own OpenAPI document, so a route added later is
covered without touching this test."""

from __future__ import annotations

import re

import httpx

from gateway.api.ids import encode_id
from tests.api.conftest import assert_result
from tests.auth.conftest import GatewayFactory, bearer, gateway_config, new_key

_PARAM = re.compile(r"\{[^}]+\}")


async def test_every_route_but_liveness_needs_credentials(gateway: GatewayFactory, tmp_path: object) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        root = gw.api.base_url
        admin = new_key(gw.cfg, "admin")
        spec = await http.get(f"{gw.api_url}/openapi.json", headers=bearer(admin))
        assert spec.status_code == 200
        routes = [(method.upper(), _PARAM.sub("eA", path))
                  for path, ops in spec.json()["paths"].items() for method in ops]
        assert len(routes) > 100, "the whole API is in the list"
        assert ("POST", "/admin/api-keys") in routes and ("GET", "/metrics") in routes
        assert ("PATCH", "/api/v3.0/submodels/eA/submodel-elements/eA/$value") in routes
        # the routes outside the OpenAPI document, the $value fast path and an unknown path
        sm = encode_id("urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData")
        routes += [("GET", "/api/v3.0/openapi.json"), ("GET", "/api/v3.0/docs"), ("HEAD", "/api/v3.0/shells"),
                   ("GET", f"/api/v3.0/submodels/{sm}/submodel-elements/Spindle.Speed/$value"),
                   ("GET", "/no/such/route"), ("OPTIONS", "/api/v3.0/shells")]
        refused = 0
        for method, path in routes:
            r = await http.request(method, root + path, json={} if method in ("POST", "PUT", "PATCH") else None)
            if (method, path) == ("GET", "/health/live"):
                assert r.status_code == 200 and r.json() == {"status": "alive"}
                continue
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            if method != "HEAD":
                assert_result(r, 401)
            refused += 1
        assert refused == len(routes) - 1

        # the fast path answers the same URL once a reader asks (proof that the walk hit a live route)
        reader = new_key(gw.cfg, "reader")
        r = await http.get(f"{gw.api_url}/submodels/{sm}/submodel-elements/Spindle.Speed/$value",
                           headers=bearer(reader))
        assert r.status_code == 200 and "Speed" in r.json()


async def test_anonymous_read_is_an_explicit_switch_for_reads_only(gateway: GatewayFactory, tmp_path: object) -> None:
    from pathlib import Path

    cfg = gateway_config(Path(str(tmp_path))).with_overrides({"api.auth.anonymous_read": True})
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        assert (await http.get(f"{gw.api_url}/shells")).status_code == 200
        assert (await http.get(f"{gw.api.base_url}/health/ready")).status_code == 200
        assert_result(await http.get(f"{gw.api.base_url}/admin/api-keys"), 401)
        sm = encode_id("urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData")
        patch = await http.patch(f"{gw.api_url}/submodels/{sm}/submodel-elements/Feed.Override/$value", json=50)
        assert_result(patch, 401)
        # a wrong key is refused, not quietly served as anonymous
        assert_result(await http.get(f"{gw.api_url}/shells", headers=bearer("agw_0000_nope")), 401)
