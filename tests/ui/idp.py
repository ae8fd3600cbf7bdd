"""A small OpenID Connect provider for the tests: discovery, authorization (auto-approves one user),
token endpoint with PKCE (S256) checked as RFC 7636 says, and the JWKS. Tokens are RS256, signed with a
key made for the run, like Keycloak's (roles under realm_access.roles)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "aas-gateway-ui"
AUDIENCE = "aas-gateway"


@dataclass
class TestIdp:
    __test__ = False  # not a test class: pytest should not collect it

    user: str = "kim"
    roles: list[str] = field(default_factory=lambda: ["plant-operator"])
    wrong_nonce: bool = False
    url: str = ""
    key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    server: uvicorn.Server | None = None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": "idp-1", "alg": "RS256",
                          "use": "sig"}]}

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.url, "iat": now, "exp": now + 300, **claims}, self.key, algorithm="RS256",
                          headers={"kid": "idp-1"})

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                             "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if (q.get("response_type") != "code" or q.get("client_id") != CLIENT_ID
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge")):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q.get("nonce", ""),
                            "redirect_uri": q["redirect_uri"]}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}  # no multipart lib needed
        self.token_requests.append({k: str(v) for k, v in form.items()})
        grant = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (grant is None or form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT_ID
                or form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["challenge"]):
            return JSONResponse({"error": "invalid_grant", "error_description": "code, client or verifier wrong"},
                                status_code=400)
        access = self._sign({"aud": AUDIENCE, "sub": "u-1", "preferred_username": self.user,
                             "realm_access": {"roles": self.roles}})
        ident = self._sign({"aud": CLIENT_ID, "sub": "u-1",
                            "nonce": "not-the-nonce" if self.wrong_nonce else grant["nonce"]})
        return JSONResponse({"access_token": access, "id_token": ident, "token_type": "Bearer", "expires_in": 300})

    async def keys(self, request: Request) -> Response:
        return JSONResponse(self.jwks())

    async def start(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        app = Starlette(routes=[Route("/.well-known/openid-configuration", self.discovery),
                                Route("/authorize", self.authorize), Route("/token", self.token, methods=["POST"]),
                                Route("/jwks", self.keys)])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off"))
        import asyncio

        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 (uvicorn offers no event for this)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            await self._task
