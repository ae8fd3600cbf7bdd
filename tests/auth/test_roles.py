"""Roles over real sockets: reader reads, operator writes, admin administers; /health/ready and /metrics
need a reader (Prometheus sends a key); refusals are 403 Results that name the missing role."""

from __future__ import annotations

import httpx

from gateway.api.ids import encode_id
from tests.api.conftest import assert_result
from tests.auth.conftest import GatewayFactory, bearer, new_key

SM = encode_id("urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData")


async def test_reader_reads_and_cannot_write_or_administer(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        root, api = gw.api.base_url, gw.api_url
        reader = {"X-API-Key": new_key(gw.cfg, "reader")}  # the other header form
        assert (await http.get(f"{api}/shells", headers=reader)).status_code == 200
        assert (await http.get(f"{root}/health/ready", headers=reader)).status_code == 200
        metrics = await http.get(f"{root}/metrics", headers=reader)
        assert metrics.status_code == 200 and "gateway_source_connected" in metrics.text
        assert_result(await http.get(f"{root}/metrics"), 401)

        value = f"{api}/submodels/{SM}/submodel-elements/Feed.Override/$value"
        msg = assert_result(await http.patch(value, json=50.0, headers=reader), 403)
        assert "operator" in str(msg["text"])
        assert_result(await http.get(f"{root}/admin/api-keys", headers=reader), 403)
        assert_result(await http.post(f"{root}/admin/api-keys", json={"name": "x", "role": "admin"},
                                      headers=reader), 403)


async def test_operator_writes_but_does_not_administer(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        operator = bearer(new_key(gw.cfg, "operator"))
        r = await http.patch(f"{gw.api_url}/submodels/{SM}/submodel-elements/Feed.Override/$value", json=50.0,
                             headers=operator)
        # past authorisation: the write reaches the (unreachable) machine and fails there
        assert r.status_code not in (401, 403), r.text
        assert r.status_code in (502, 503, 504), r.text
        assert (await http.get(f"{gw.api_url}/shells", headers=operator)).status_code == 200
        assert_result(await http.delete(f"{gw.api.base_url}/admin/api-keys/abc", headers=operator), 403)


async def test_admin_may_do_everything(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        admin = bearer(new_key(gw.cfg, "admin"))
        assert (await http.get(f"{gw.api_url}/shells", headers=admin)).status_code == 200
        assert (await http.get(f"{gw.api.base_url}/admin/api-keys", headers=admin)).status_code == 200
        r = await http.patch(f"{gw.api_url}/submodels/{SM}/submodel-elements/Feed.Override/$value", json=50.0,
                             headers=admin)
        assert r.status_code not in (401, 403), r.text


async def test_unsupported_scheme_and_malformed_keys_are_401(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        for headers in ({"Authorization": "Basic dXNlcjpwYXNz"}, bearer("agw_nothing"), bearer("agw_abc_def"),
                        {"X-API-Key": "not-a-key"}, {"Authorization": "Bearer"}):
            r = await http.get(f"{gw.api_url}/shells", headers=headers)
            assert_result(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer")
