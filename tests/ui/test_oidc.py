"""Sign-in through an OpenID Connect provider: authorization code flow with PKCE against a local IdP.

The gateway finds the endpoints in the IdP's discovery document, sends the browser there with a
state, a nonce and an S256 code challenge, exchanges the code with the verifier, checks the access
token as the API checks bearer tokens (JWKS, issuer, audience, roles) and the ID token's nonce, and
opens a session with the IdP user's name and mapped role. Then the same in Chromium.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.auth.config import JwtConfig, OidcConfig
from gateway.config import GatewayConfig
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS
from tests.ui.conftest import GatewayFactory, base, free_port, gateway_config
from tests.ui.idp import AUDIENCE, CLIENT_ID, TestIdp


@pytest.fixture
async def idp() -> AsyncIterator[TestIdp]:
    p = TestIdp()
    await p.start(free_port())
    yield p
    await p.stop()


def oidc_config(tmp_path: Path, idp: TestIdp) -> GatewayConfig:
    cfg = gateway_config(tmp_path)
    return cfg.with_overrides({
        "api.auth.jwt": JwtConfig(
            issuer=idp.url, audience=AUDIENCE, jwks_url=f"{idp.url}/jwks", role_claim="realm_access.roles",
            subject_claim="preferred_username", role_map={"plant-viewer": "reader", "plant-operator": "operator"}),
        "api.ui.oidc": OidcConfig(client_id=CLIENT_ID, label="Plant login")})


async def follow_sign_in(http: httpx.AsyncClient, root: str) -> httpx.Response:
    """The browser's hops: gateway start -> IdP authorize -> gateway callback; returns the callback's answer."""
    start = await http.get(f"{root}/ui/auth/oidc/start")
    assert start.status_code == 303, start.text
    authorize = await http.get(start.headers["location"])
    assert authorize.status_code == 302, authorize.text
    return await http.get(authorize.headers["location"])


async def test_code_flow_with_pkce_opens_a_session_with_the_idps_user_and_role(
        gateway: GatewayFactory, idp: TestIdp, tmp_path: Path) -> None:
    cfg = oidc_config(tmp_path, idp)
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient() as http:
        root = base(gw)
        assert (await http.get(f"{root}/ui/auth/config")).json()["oidc"] == {"label": "Plant login"}
        start = await http.get(f"{root}/ui/auth/oidc/start")
        q = parse_qs(urlsplit(start.headers["location"]).query)
        assert start.headers["location"].startswith(f"{idp.url}/authorize?")
        assert q["response_type"] == ["code"] and q["client_id"] == [CLIENT_ID]
        assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
        assert q["redirect_uri"] == [f"{root}/ui/auth/oidc/callback"] and q["state"] and q["nonce"]
        assert "openid" in q["scope"][0].split()
        callback = await follow_sign_in(http, root)
        assert callback.status_code == 303 and callback.headers["location"] == "/#/"
        assert "HttpOnly" in callback.headers["set-cookie"] and "SameSite=Strict" in callback.headers["set-cookie"]
        me = (await http.get(f"{root}/ui/api/session")).json()
        assert me["subject"] == "jwt:kim" and me["roles"] == ["operator", "reader"] and me["method"] == "oidc"
        sent = idp.token_requests[-1]
        assert sent["grant_type"] == "authorization_code" and len(sent["code_verifier"]) >= 43
        assert "client_secret" not in sent  # a public client: PKCE is its proof
        # the state is single-use: replaying the callback signs nobody in
        replay = await http.get(str(callback.request.url))
        assert replay.status_code == 303 and replay.headers["location"].startswith("/#/signin?error=")
        assert "unknown or expired" in replay.headers["location"].replace("%20", " ")
    records = [json.loads(line) for line in cfg.audit.path.read_text().splitlines()]
    assert any(r["action"] == "ui.signin" and r["actor"] == "jwt:kim" and r["detail"] == "OIDC" for r in records)


@pytest.mark.parametrize(("change", "reason"), [
    ({"roles": ["canteen"]}, "grants no gateway role"),
    ({"wrong_nonce": True}, "nonce"),
])
async def test_refused_sign_ins_say_why(gateway: GatewayFactory, idp: TestIdp, tmp_path: Path,
                                        change: dict[str, object], reason: str) -> None:
    for k, v in change.items():
        setattr(idp, k, v)
    async with gateway(cfg=oidc_config(tmp_path, idp)) as gw, httpx.AsyncClient() as http:
        callback = await follow_sign_in(http, base(gw))
        where = callback.headers["location"]
        assert where.startswith("/#/signin?error=") and reason in where.replace("%20", " ")
        assert "set-cookie" not in callback.headers
        assert (await http.get(f"{base(gw)}/ui/api/session")).status_code == 401


async def test_a_wrong_pkce_verifier_is_refused_by_the_idp(gateway: GatewayFactory, idp: TestIdp,
                                                          tmp_path: Path) -> None:
    async with gateway(cfg=oidc_config(tmp_path, idp)) as gw, httpx.AsyncClient() as http:
        start = await http.get(f"{base(gw)}/ui/auth/oidc/start")
        authorize = await http.get(start.headers["location"])
        code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
        idp.codes[code]["challenge"] = "A" * 43  # as if someone else had started this sign-in
        callback = await http.get(authorize.headers["location"])
        assert "invalid_grant" in callback.headers["location"]
        assert (await http.get(f"{base(gw)}/ui/api/session")).status_code == 401


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_single_sign_on_in_chromium(gateway: GatewayFactory, idp: TestIdp, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    async with gateway(cfg=oidc_config(tmp_path, idp)) as gw, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(f"{base(gw)}/")
            await page.click("#sso")
            await expect(page.locator(".asset-card")).to_have_count(3, timeout=30_000)
            await expect(page.locator("#who .subject")).to_have_text("kim")
            await expect(page.locator("#who .role")).to_have_text("Operator")
            await page.click("#signout")
            await expect(page.locator("#apikey")).to_be_visible()
            assert (await page.request.get(f"{base(gw)}/ui/api/session")).status == 401
        finally:
            await browser.close()
