"""Acceptance (issue 5): a valid OIDC token with the operator role writes a live value to a real machine.

The same PATCH with a viewer's token is refused (403) and reaches nothing; the audit log names the
token's subject as the one who wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from simulators.cnc import CncMachine
from tests.auth.conftest import Idp, bearer, jwt_auth, write_jwks
from tests.conftest import wait_for
from tests.integration.conftest import gateway_config
from tests.integration.test_write import cnc_asset, element_url, read_node


@pytest.mark.slow
async def test_operator_token_writes_to_the_machine_viewer_token_cannot(machines: Any, tmp_path: Path,
                                                                        idp: Idp) -> None:
    cnc = await machines(CncMachine, name="CNC01", seed=3)
    cfg = gateway_config(tmp_path, cnc_asset(cnc, {"Feed.Override"}), api=True)
    cfg = cfg.with_overrides({"api.auth": jwt_auth(jwks_file=write_jwks(tmp_path / "jwks.json", idp))})
    async with Gateway(cfg) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        url = element_url(gw.api_url, "Feed.Override")
        operator = bearer(idp.token(["plant-operator"]))
        await wait_for(lambda: _reads(http, url, operator), message="Feed.Override readable with the token")

        viewer = await http.patch(url, json=12.5, headers=bearer(idp.token(["plant-viewer"])))
        assert viewer.status_code == 403 and "operator" in viewer.json()["messages"][0]["text"]
        assert await read_node(cnc, "Feed.Override") == 100.0, "a refused write reaches nothing"

        r = await http.patch(url, json={"Override": 77.5}, headers=operator)
        assert r.status_code == 204, r.text
        assert await read_node(cnc, "Feed.Override") == 77.5

        no_token = await http.patch(url, json=1.0)
        assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")

        audit = [json.loads(x) for x in gw.audit.path.read_text().splitlines()]
        writes = [a for a in audit if a["action"] == "write"]
        assert [(a["actor"], a["old"], a["new"], a["result"]) for a in writes] == [
            ("jwt:kim", 100.0, 77.5, "ok")], writes


async def _reads(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> bool:
    r = await http.get(url, headers=headers)
    return r.status_code == 200 and r.json().get("Override") == 100.0
