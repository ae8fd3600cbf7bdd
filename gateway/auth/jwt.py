"""OAuth2/OIDC bearer JWTs: signature against the IdP's JWKS, issuer, audience, time, then roles.

PyJWT does the cryptography and the claim checks; this module decides policy: asymmetric algorithms
only (from config, never `none` or HS*), a JWKS from a file or a URL (fetched by `jwt.PyJWKClient`,
kept for `jwks_cache_s`; an unknown `kid` refetches at most every `_MIN_REFETCH_S`, so junk tokens
cannot make us hammer the IdP), and roles from a configurable claim through `role_map`.
A validated token is remembered until it expires, so a client reusing its token costs a dict lookup.
`validate` may block on the network: call it off the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import jwt as pyjwt

from gateway.auth.config import JwtConfig
from gateway.auth.principal import Principal, expand

log = logging.getLogger(__name__)

_MIN_REFETCH_S = 30.0
_MAX_CACHE = 10_000


class TokenError(Exception):
    """Why a token is refused; the text goes to the client, so it names the check, never the token."""


def claim_at(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class _Jwks:
    """Signing keys by kid, from a file (re-read when it changes) or a URL (PyJWKClient's cache)."""

    def __init__(self, cfg: JwtConfig) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._file_keys: dict[str, pyjwt.PyJWK] = {}
        self._file_mtime: int | None = None
        self._last_refetch = 0.0
        self._client = (pyjwt.PyJWKClient(cfg.jwks_url, cache_keys=False, cache_jwk_set=True,
                                          lifespan=int(cfg.jwks_cache_s), timeout=10)
                        if cfg.jwks_url else None)

    def key(self, kid: str | None) -> pyjwt.PyJWK:
        keys = self._keys(refresh=False)
        found = self._match(keys, kid)
        if found is None and self._client is not None:
            with self._lock:
                due = time.monotonic() - self._last_refetch >= _MIN_REFETCH_S
                if due:
                    self._last_refetch = time.monotonic()
            if due:  # the IdP may have rotated its keys
                found = self._match(self._keys(refresh=True), kid)
        if found is None:
            raise TokenError("token signed with an unknown key")
        return found

    @staticmethod
    def _match(keys: list[pyjwt.PyJWK], kid: str | None) -> pyjwt.PyJWK | None:
        if kid is None:
            return keys[0] if len(keys) == 1 else None  # only an unambiguous JWKS may omit kids
        return next((k for k in keys if k.key_id == kid), None)

    def _keys(self, refresh: bool) -> list[pyjwt.PyJWK]:
        if self._client is not None:
            try:
                return list(self._client.get_signing_keys(refresh=refresh))
            except pyjwt.PyJWKClientError as e:
                log.warning("cannot fetch the JWKS from %s: %s", self._cfg.jwks_url, e)
                raise TokenError("the identity provider's keys are unavailable") from None
        assert self._cfg.jwks_file is not None
        path = self._cfg.jwks_file
        try:
            mtime = path.stat().st_mtime_ns
            if mtime != self._file_mtime:
                data = json.loads(path.read_text(encoding="utf-8"))
                jwks = pyjwt.PyJWKSet.from_dict(data)
                with self._lock:
                    self._file_keys = {str(k.key_id): k for k in jwks.keys}
                    self._file_mtime = mtime
        except (OSError, ValueError, pyjwt.PyJWKSetError) as e:
            log.warning("cannot read the JWKS file %s: %s", path, e)
            if self._file_mtime is None:
                raise TokenError("the identity provider's keys are unavailable") from None
        return list(self._file_keys.values())


class JwtValidator:
    def __init__(self, cfg: JwtConfig) -> None:
        self.cfg = cfg
        self._jwks = _Jwks(cfg)
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (principal, exp)

    def cached(self, token: str) -> Principal | None:
        hit = self._verified.get(token)
        if hit is None:
            return None
        if time.time() >= hit[1] + self.cfg.leeway_s:
            self._verified.pop(token, None)
            return None
        return hit[0]

    def validate(self, token: str) -> Principal:
        """The principal of a valid token; raises TokenError saying which check failed."""
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.InvalidTokenError:
            raise TokenError("malformed token") from None
        alg = header.get("alg")
        if alg not in self.cfg.algorithms:
            raise TokenError(f"token algorithm {str(alg)[:16]!r} is not accepted")
        key = self._jwks.key(header.get("kid"))
        try:
            claims = pyjwt.decode(token, key=key, algorithms=list(self.cfg.algorithms), audience=self.cfg.audience,
                                  issuer=self.cfg.issuer, leeway=self.cfg.leeway_s,
                                  options={"require": ["exp", "iss", "aud"]})
        except pyjwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except pyjwt.ImmatureSignatureError:
            raise TokenError("token not yet valid") from None
        except pyjwt.InvalidAudienceError:
            raise TokenError("token audience not accepted") from None
        except pyjwt.InvalidIssuerError:
            raise TokenError("token issuer not accepted") from None
        except pyjwt.InvalidSignatureError:
            raise TokenError("token signature invalid") from None
        except pyjwt.MissingRequiredClaimError as e:
            raise TokenError(f"token lacks the {e.claim!r} claim") from None
        except (pyjwt.InvalidTokenError, pyjwt.PyJWKError, ValueError, TypeError):
            raise TokenError("token invalid") from None
        subject = claim_at(claims, self.cfg.subject_claim) or claims.get("sub") or "?"
        principal = Principal(f"jwt:{subject}", self.roles(claims), "jwt")
        if len(self._verified) >= _MAX_CACHE:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]))
        return principal

    def roles(self, claims: dict[str, Any]) -> frozenset[str]:
        raw = claim_at(claims, self.cfg.role_claim)
        names = raw.split() if isinstance(raw, str) else [str(r) for r in raw] if isinstance(raw, list) else []
        if self.cfg.role_map:
            return expand([self.cfg.role_map[n] for n in names if n in self.cfg.role_map])
        return expand(names)
