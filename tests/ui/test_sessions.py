"""Dashboard sessions against a real gateway over real sockets: cookie, CSRF, roles, revocation, sign-out.

The cookie stands for the API key it was opened with: same roles, same audit name, and a key revoked
meanwhile ends the session. Every write with it needs the session's CSRF token and must not come
from another site; a reader's session may write nothing, whatever it sends.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from gateway.auth.principal import Principal
from gateway.ui.sessions import COOKIE_NAME, SessionStore
from tests.ui.conftest import GatewayFactory, base, gateway_config, new_key, sign_in

OP_SM = "urn:aas-gateway:demo:aas:IMM01:submodels:OperationalData"


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()


SETPOINT = f"/api/v3.0/submodels/{b64(OP_SM)}/submodel-elements/Barrel.Zone1.Setpoint/$value"


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_sign_in_sets_an_httponly_strict_cookie_and_never_returns_the_key(gateway: GatewayFactory,
                                                                                  tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key = new_key(cfg, "operator")
    async with gateway(cfg=cfg) as gw:
        async with httpx.AsyncClient(base_url=base(gw)) as http:
            r = await http.post("/ui/auth/login", json={"apiKey": key})
            assert r.status_code == 200
            cookie = r.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE_NAME}=")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
            assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never be sent back
            assert key not in cookie and key not in r.text
            assert r.headers["cache-control"] == "no-store"
            body = r.json()
            assert body["roles"] == ["operator", "reader"] and body["csrf"]
            assert body["subject"].startswith("apikey:") and body["subject"].endswith("/test-operator")
            # the cookie alone reads the dashboard's data and the AAS API
            me = (await http.get("/ui/api/session")).json()
            assert me["csrf"] == body["csrf"] and me["method"] == "apikey"
            assert (await http.get("/api/v3.0/shells")).status_code == 200
            assert (await http.get("/ui/api/overview")).status_code == 200
        async with httpx.AsyncClient(base_url=base(gw)) as anonymous:
            assert (await anonymous.get("/ui/api/overview")).status_code == 401
            assert (await anonymous.get("/api/v3.0/shells")).status_code == 401
    signins = [r for r in audit_records(cfg.audit.path) if r["action"] == "ui.signin"]
    assert len(signins) == 1 and signins[0]["actor"] == body["subject"] and signins[0]["result"] == "ok"


async def test_a_bad_key_is_refused_and_not_audited(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    new_key(cfg, "admin")
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw)) as http:
        for body in ({"apiKey": "agw_0123456789ab_wrongsecret"}, {"apiKey": "not-a-key"}):
            r = await http.post("/ui/auth/login", json=body)
            assert r.status_code == 401 and r.json()["messages"][0]["text"].startswith("sign-in refused")
            assert "set-cookie" not in r.headers
        assert (await http.post("/ui/auth/login", json={"key": "x"})).status_code == 400
        assert (await http.post("/ui/auth/login", content=b"apiKey=x",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})).status_code == 415
        # a cross-site page cannot sign this browser in (login CSRF)
        r = await http.post("/ui/auth/login", json={"apiKey": "x"}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
    assert not [r for r in audit_records(cfg.audit.path) if r["action"] == "ui.signin"]


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_writes_with_the_cookie_need_the_csrf_token_and_the_role(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    op_key, reader_key = new_key(cfg, "operator"), new_key(cfg, "reader")
    async with gateway(cfg=cfg) as gw:
        root = base(gw)
        async with httpx.AsyncClient(base_url=root) as op, httpx.AsyncClient(base_url=root) as reader:
            s = await sign_in(op, op_key)
            rs = await sign_in(reader, reader_key)
            hdr = {"Content-Type": "application/json"}
            # no token, a wrong one, another site: refused before any route (and before the machine)
            for extra in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": s["csrf"], "Origin": "https://evil.example"},
                          {"X-CSRF-Token": s["csrf"], "Sec-Fetch-Site": "cross-site"}):
                r = await op.patch(SETPOINT, content=b"205", headers={**hdr, **extra})
                assert r.status_code == 403, (extra, r.text)
                assert r.json()["messages"][0]["messageType"] == "Error"
            # the token of another session is no good either
            r = await op.patch(SETPOINT, content=b"205", headers={**hdr, "X-CSRF-Token": rs["csrf"]})
            assert r.status_code == 403
            # with its token the operator's write reaches the route: the machine is unreachable here (502)
            r = await op.patch(SETPOINT, content=b"205", headers={**hdr, "X-CSRF-Token": s["csrf"],
                                                                    "Origin": root, "Sec-Fetch-Site": "same-origin"})
            assert r.status_code == 502, r.text
            assert r.json()["messages"][0]["code"] == "BadNotConnected"
            # a reader's session is refused whatever it sends: the role decides, as for a key
            r = await reader.patch(SETPOINT, content=b"205", headers={**hdr, "X-CSRF-Token": rs["csrf"]})
            assert r.status_code == 403 and "operator" in r.json()["messages"][0]["text"]
            assert (await reader.get("/admin/api-keys")).status_code == 403
    writes = [r for r in audit_records(cfg.audit.path) if r["action"] == "write"]
    assert len(writes) == 1, writes  # only the one that passed the checks reached the machine path
    assert writes[0]["actor"] == s["subject"] and writes[0]["new"] == 205.0
    assert writes[0]["result"] == "error: BadNotConnected"


async def test_a_revoked_key_ends_its_session_and_sign_out_ends_it_too(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key1, key2 = new_key(cfg, "admin"), new_key(cfg, "reader")
    async with gateway(cfg=cfg) as gw:
        async with httpx.AsyncClient(base_url=base(gw)) as a, httpx.AsyncClient(base_url=base(gw)) as b:
            sa = await sign_in(a, key1)
            await sign_in(b, key2)
            key2_id = key2.split("_")[1]
            r = await a.delete(f"/admin/api-keys/{key2_id}", headers={"X-CSRF-Token": sa["csrf"]})
            assert r.status_code == 204
            assert (await b.get("/ui/api/session")).status_code == 401  # revoked: the session is gone
            # signing out needs the token, then the cookie opens nothing
            assert (await a.post("/ui/auth/logout")).status_code == 403
            r = await a.post("/ui/auth/logout", headers={"X-CSRF-Token": sa["csrf"]})
            assert r.status_code == 204 and "Max-Age=0" in r.headers["set-cookie"]
            cookie = a.cookies.get(COOKIE_NAME)
            assert cookie is None or (await a.get("/ui/api/session")).status_code == 401
        async with httpx.AsyncClient(base_url=base(gw), cookies={COOKIE_NAME: "forged"}) as c:
            assert (await c.get("/ui/api/session")).status_code == 401
    actions = [r["action"] for r in audit_records(cfg.audit.path)]
    assert actions.count("ui.signin") == 2 and "ui.signout" in actions and "apikey.revoke" in actions


async def test_the_page_and_its_files_are_public_and_locked_down_by_csp(gateway: GatewayFactory,
                                                                        tmp_path: Path) -> None:
    async with gateway(cfg=gateway_config(tmp_path)) as gw, httpx.AsyncClient(base_url=base(gw)) as http:
        for path in ("/", "/ui/assets/js/main.js", "/ui/assets/css/app.css", "/ui/assets/vendor/uplot/uPlot.esm.js",
                     "/ui/assets/vendor/uplot/LICENSE", "/ui/auth/config"):
            r = await http.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
        r = await http.get("/ui/assets/js/main.js")
        assert r.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
        assert r.headers["cache-control"] == "no-cache" and r.headers.get("etag")
        again = await http.get("/ui/assets/js/main.js", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        missing = await http.get("/ui/assets/js/nothing.js")
        assert missing.status_code == 404
        # the API keeps its own policy, the dashboard's data needs credentials
        assert (await http.get("/api/v3.0/description")).status_code == 401
        assert (await http.get("/ui/api/session")).status_code == 401


def test_sessions_end_after_idle_time_and_max_age() -> None:
    now = [1000.0]
    store = SessionStore(policy=None, idle_s=60, max_s=300, clock=lambda: now[0])  # type: ignore[arg-type]
    p = Principal("apikey:x/y", frozenset({"reader"}), "apikey")
    token, s = store.create(p, None, "oidc")
    assert store.lookup(token) is s
    now[0] += 59
    assert store.lookup(token) is s and store.alive(s)
    now[0] += 2  # 61 s without a request of its user: lookup() and the stream's alive() are no activity
    assert store.lookup(token) is None and not store.alive(s)
    token, s = store.create(p, None, "oidc")
    for _ in range(6):  # active every 50 s, still gone at max age
        now[0] += 50
        s.last_seen = now[0]
    assert store.lookup(token) is None
    # bounded: the oldest go first
    small = SessionStore(policy=None, idle_s=60, max_s=300, max_sessions=10, clock=lambda: now[0])  # type: ignore[arg-type]
    tokens = [small.create(p, None, "oidc")[0] for _ in range(25)]
    assert len(small) <= 10 and small.lookup(tokens[-1]) is not None and small.lookup(tokens[0]) is None


async def test_expired_api_key_session_is_refused(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    key = new_key(cfg, "reader")
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw)) as http:
        await sign_in(http, key)
        assert gw.dashboard is not None
        for s in list(gw.dashboard.sessions._sessions.values()):
            s.ends = 0.0  # the session's max age is over
        assert (await http.get("/ui/api/overview")).status_code == 401
        assert len(gw.dashboard.sessions) == 0
