"""OIDC sign-in for the dashboard: the authorization code flow with PKCE against the configured issuer.

The browser is sent to the IdP's authorization endpoint with a fresh `state`, `nonce` and PKCE
challenge (S256); the IdP sends it back to `/ui/auth/oidc/callback` with a code, which the gateway
exchanges at the token endpoint with the matching verifier. The *access token* is then checked
exactly as a bearer token on the API is (`JwtValidator`: signature against the JWKS, issuer,
audience, expiry, roles through `role_map`), so the dashboard grants what the API would; the ID
token, when the IdP sends one, must be signed by the same keys, be for our `client_id` and carry
our nonce. Endpoints come from the issuer's discovery document, or from the config where an IdP
has none.

Everything here may block on the network: call `begin`'s discovery and `finish` off the event loop.
Pending sign-ins live in memory for `PENDING_TTL_S`, bounded, and are used once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt

from gateway.auth.config import OidcConfig, secure_url
from gateway.auth.jwt import JwtValidator, TokenError
from gateway.auth.principal import Principal

PENDING_TTL_S = 600.0
PENDING_MAX = 1000
_MAX_RESPONSE = 1024 * 1024


class OidcError(Exception):
    """Why a sign-in failed; the text is shown to the user, so it never holds a token or a secret."""


@dataclass(frozen=True)
class _Pending:
    verifier: str
    nonce: str
    redirect_uri: str
    created: float


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class OidcClient:
    def __init__(self, cfg: OidcConfig, issuer: str, validator: JwtValidator) -> None:
        self.cfg = cfg
        self.issuer = issuer.rstrip("/")
        self.validator = validator
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._endpoints: tuple[str, str] | None = (
            (cfg.authorization_endpoint, cfg.token_endpoint)
            if cfg.authorization_endpoint and cfg.token_endpoint else None)

    # --- network --------------------------------------------------------------------------------

    def _fetch_json(self, req: urllib.request.Request | str, what: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as r:
                body = r.read(_MAX_RESPONSE + 1)
        except urllib.error.HTTPError as e:
            detail = ""
            try:
                err = json.loads(e.read(4096) or b"{}")
                detail = f": {str(err.get('error', ''))[:80]} {str(err.get('error_description', ''))[:200]}".rstrip()
            except ValueError:
                pass
            raise OidcError(f"the identity provider's {what} answered HTTP {e.code}{detail}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise OidcError(f"the identity provider's {what} cannot be reached ({reason})") from None
        if len(body) > _MAX_RESPONSE:
            raise OidcError(f"the identity provider's {what} answer is too large")
        try:
            doc = json.loads(body)
        except ValueError:
            raise OidcError(f"the identity provider's {what} did not answer JSON") from None
        if not isinstance(doc, dict):
            raise OidcError(f"the identity provider's {what} did not answer a JSON object")
        return doc

    def endpoints(self) -> tuple[str, str]:
        """(authorization endpoint, token endpoint): configured, or from the discovery document (cached)."""
        if self._endpoints is not None:
            return self._endpoints
        url = self.cfg.discovery_url or f"{self.issuer}/.well-known/openid-configuration"
        doc = self._fetch_json(url, "discovery document")
        auth, token = doc.get("authorization_endpoint"), doc.get("token_endpoint")
        if not isinstance(auth, str) or not isinstance(token, str):
            raise OidcError("the discovery document names no authorization_endpoint/token_endpoint")
        if not (secure_url(auth) and secure_url(token)):
            raise OidcError("the discovery document names endpoints that are not https://")
        if doc.get("issuer") not in (None, self.issuer, self.issuer + "/"):
            raise OidcError("the discovery document is of another issuer")
        self._endpoints = (auth, token)
        return self._endpoints

    # --- the flow -------------------------------------------------------------------------------

    def begin(self, redirect_uri: str) -> str:
        """The IdP URL to send the browser to; remembers the state, nonce and PKCE verifier (blocking)."""
        auth, _ = self.endpoints()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        now = time.monotonic()
        with self._lock:
            for k in [k for k, p in self._pending.items() if now - p.created > PENDING_TTL_S]:
                del self._pending[k]
            if len(self._pending) >= PENDING_MAX:  # a flood of unfinished sign-ins: the oldest go first
                for k in sorted(self._pending, key=lambda k: self._pending[k].created)[: PENDING_MAX // 10]:
                    del self._pending[k]
            self._pending[state] = _Pending(verifier, nonce, redirect_uri, now)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.cfg.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.cfg.scopes), "state": state, "nonce": nonce,
            "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"})
        return f"{auth}{'&' if '?' in auth else '?'}{query}"

    def finish(self, code: str, state: str) -> Principal:
        """Exchange the code (blocking) and return who signed in; OidcError says why not."""
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.created > PENDING_TTL_S:
            raise OidcError("this sign-in is unknown or expired: start it again")
        _, token_url = self.endpoints()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirect_uri,
                "client_id": self.cfg.client_id, "code_verifier": pending.verifier}
        if self.cfg.client_secret:
            form["client_secret"] = self.cfg.client_secret
        req = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
        tokens = self._fetch_json(req, "token endpoint")
        access = tokens.get("access_token")
        if not isinstance(access, str) or not access:
            raise OidcError("the identity provider sent no access token")
        id_token = tokens.get("id_token")
        if isinstance(id_token, str):
            self._check_id_token(id_token, pending.nonce)
        try:
            principal = self.validator.validate(access)
        except TokenError as e:
            raise OidcError(f"the access token is not accepted: {e}") from None
        if not principal.roles:
            raise OidcError("signed in, but the identity provider grants no gateway role (reader, operator, admin)")
        return principal

    def _check_id_token(self, token: str, nonce: str) -> None:
        try:
            header = pyjwt.get_unverified_header(token)
            if header.get("alg") not in self.validator.cfg.algorithms:
                raise OidcError("the ID token's algorithm is not accepted")
            # the same key set that signs the access tokens (JwtValidator's, cached and refetch-limited)
            key = self.validator._jwks.key(header.get("kid"))
            claims = pyjwt.decode(token, key=key, algorithms=list(self.validator.cfg.algorithms),
                                  audience=self.cfg.client_id, issuer=self.validator.cfg.issuer,
                                  leeway=self.validator.cfg.leeway_s, options={"require": ["exp", "iss", "aud"]})
        except TokenError as e:
            raise OidcError(f"the ID token is not accepted: {e}") from None
        except (pyjwt.InvalidTokenError, pyjwt.PyJWKError, ValueError, TypeError) as e:
            raise OidcError(f"the ID token is not accepted: {type(e).__name__}") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("the ID token does not carry this sign-in's nonce")
