"""Dashboard sign-in and sign-out: `/ui/auth/...` (public paths: each route checks what it is given).

* `POST /ui/auth/login` `{"apiKey": "agw_..."}`: the key is checked as the API checks it (same
  store, same cache, same scrypt limit); a session is opened and its id set as an HttpOnly
  SameSite=Strict cookie. The key stays on the server; the browser never holds more than the cookie.
* `GET /ui/auth/oidc/start` and `GET /ui/auth/oidc/callback`: the authorization code flow with
  PKCE (gateway/auth/oidc.py); a failure returns the browser to the sign-in page with the reason.
* `POST /ui/auth/logout`: ends the session (CSRF token required, like every write with it).
* `GET /ui/auth/config`: what the sign-in page offers.

Sign-ins and sign-outs are written to the audit log (a refused key is not, as on the API: anyone can
send one, and the audit file is fsynced per record).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.api.errors import ApiError, BadRequest
from gateway.api.request_body import json_value, read_body
from gateway.auth.oidc import OidcError
from gateway.auth.policy import AuthFailure
from gateway.auth.principal import Principal
from gateway.ui.sessions import CSRF_HEADER, Session, cookie_value, cross_site

if TYPE_CHECKING:
    from gateway.ui.dashboard import Dashboard

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


class ApiKeySignIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=512, alias="apiKey")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"


def session_body(s: Session | None, principal: Principal, idle_s: float) -> dict[str, Any]:
    return {"subject": principal.subject, "roles": sorted(principal.roles),
            "method": s.method if s else principal.method, "csrf": s.csrf if s else None,
            "expires": s.expiry(idle_s) if s else None}


def ui_auth_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(prefix="/ui/auth", tags=["dashboard"], include_in_schema=False)
    store = dash.sessions

    async def audit(request: Request, principal: Principal, action: str, detail: str | None = None) -> None:
        try:
            await asyncio.to_thread(dash.gateway.audit.record, actor=principal.subject, source=_client(request),
                                    action=action, target="dashboard", result="ok", detail=detail)
        except Exception:
            log.exception("audit log: could not record %s by %s", action, principal.subject)

    def with_cookie(request: Request, response: Response, token: str) -> Response:
        response.headers.append("Set-Cookie", store.set_cookie(token, _secure(request)))
        return response

    @router.get("/config")
    async def sign_in_options() -> Response:
        oidc = dash.oidc
        return JSONResponse({"oidc": {"label": oidc.cfg.label} if oidc is not None else None,
                             "gateway": dash.gateway.cfg.gateway.name}, headers=_NO_STORE)

    @router.post("/login")
    async def login(request: Request) -> Response:
        if cross_site(request.scope):  # no one may sign a browser in from another site (login CSRF)
            raise ApiError(403, "forbidden: sign in from the dashboard's own page")
        try:
            body = ApiKeySignIn.model_validate(json_value(await read_body(request)))
        except ValidationError:
            raise BadRequest('expected {"apiKey": "agw_..."}') from None
        try:
            principal = await dash.access.authenticate(body.api_key.strip())
        except AuthFailure as e:
            raise ApiError(401, f"sign-in refused: {e}") from None
        if principal is None or principal.method != "apikey":
            raise ApiError(401, "sign-in refused: give an API key (agw_...)")
        token, s = store.create(principal, body.api_key.strip(), "apikey")
        await audit(request, principal, "ui.signin", "API key")
        return with_cookie(request, JSONResponse(session_body(s, principal, store.idle_s), headers=_NO_STORE), token)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        s = store.lookup(cookie_value(request.scope))
        if s is not None:
            sent = request.headers.get(CSRF_HEADER.decode()) or ""
            if cross_site(request.scope) or not hmac.compare_digest(sent.encode(), s.csrf.encode()):
                raise ApiError(403, "forbidden: signing out needs the session's CSRF token in X-CSRF-Token")
            store.end(s)
            await audit(request, s.principal, "ui.signout")
        response = Response(status_code=204, headers=_NO_STORE)
        response.headers.append("Set-Cookie", store.clear_cookie(_secure(request)))
        return response

    def back_to_sign_in(text: str) -> Response:
        return RedirectResponse(f"/#/signin?error={quote(text[:300])}", status_code=303, headers=_NO_STORE)

    def redirect_uri(request: Request) -> str:
        assert dash.oidc is not None
        return dash.oidc.cfg.redirect_uri or str(request.base_url).rstrip("/") + "/ui/auth/oidc/callback"

    @router.get("/oidc/start")
    async def oidc_start(request: Request) -> Response:
        if dash.oidc is None:
            raise ApiError(404, "single sign-on is not configured (api.ui.oidc)")
        try:
            url = await asyncio.to_thread(dash.oidc.begin, redirect_uri(request))
        except OidcError as e:
            log.warning("OIDC sign-in could not start: %s", e)
            return back_to_sign_in(str(e))
        return RedirectResponse(url, status_code=303, headers=_NO_STORE)

    @router.get("/oidc/callback")
    async def oidc_callback(request: Request, code: str | None = None, state: str | None = None,
                            error: str | None = None, error_description: str | None = None) -> Response:
        if dash.oidc is None:
            raise ApiError(404, "single sign-on is not configured (api.ui.oidc)")
        if error:
            return back_to_sign_in(f"the identity provider refused: {error[:80]} {(error_description or '')[:200]}")
        if not code or not state:
            return back_to_sign_in("the identity provider sent no code")
        try:
            principal = await asyncio.to_thread(dash.oidc.finish, code, state)
        except OidcError as e:
            log.warning("OIDC sign-in refused: %s", e)
            return back_to_sign_in(str(e))
        token, _ = store.create(principal, None, "oidc")
        await audit(request, principal, "ui.signin", "OIDC")
        return with_cookie(request, RedirectResponse("/#/", status_code=303, headers=_NO_STORE), token)

    return router
