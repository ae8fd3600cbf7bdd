"""Authentication: from a request's credential to a `Principal`, by API key or by JWT.

The decision which role a request needs lives in gateway/api/access.py; this module only answers
"who is this". Both checks remember what they verified, so a repeated credential is a dict lookup;
a credential seen for the first time is checked in a worker thread (scrypt for keys, maybe a JWKS
fetch for tokens) so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gateway.auth.apikeys import PREFIX, ApiKeyStore, default_keys_file
from gateway.auth.config import ApiAuthConfig
from gateway.auth.jwt import JwtValidator, TokenError
from gateway.auth.principal import Principal

log = logging.getLogger(__name__)

class AuthFailure(Exception):
    """A credential was given and is not valid (always a 401, never downgraded to anonymous)."""


class SessionRefused(Exception):
    """A request with a dashboard session that must not pass (a write without its CSRF token, or from
    another site): a 403 with this text."""


class SessionAuthenticator(Protocol):
    """The dashboard's sessions (gateway/ui/sessions.py), asked when a request has no key or token."""

    async def authenticate(self, scope: Any) -> Principal | None: ...


@dataclass
class AccessPolicy:
    """What the API accepts. Build it with `from_config`; there is no default, so no API is open by accident."""

    api_keys: ApiKeyStore | None = None
    jwt: JwtValidator | None = None
    anonymous_read: bool = False
    sessions: SessionAuthenticator | None = None  # the dashboard's session cookies, when it is served
    # scrypt costs 16 MB and tens of ms of CPU, and anyone can send a key with a fresh wrong secret: at most
    # two run at once, the rest wait (memory and CPU stay bounded; cached keys never wait)
    _verifications: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2), repr=False)

    @classmethod
    def from_config(cls, cfg: ApiAuthConfig, historian_path: Path) -> AccessPolicy:
        keys = ApiKeyStore(cfg.api_keys_file or default_keys_file(historian_path))
        return cls(api_keys=keys, jwt=JwtValidator(cfg.jwt) if cfg.jwt else None, anonymous_read=cfg.anonymous_read)

    def describe(self) -> str:
        parts = []
        if self.api_keys is not None:
            parts.append(f"API keys from {self.api_keys.path}")
        if self.jwt is not None:
            parts.append(f"JWTs from issuer {self.jwt.cfg.issuer}")
        if self.anonymous_read:
            parts.append("anonymous read ON")
        return ", ".join(parts) or "nothing accepted"

    async def authenticate(self, credential: str | None) -> Principal | None:
        """The caller's principal; None without a credential; AuthFailure for a bad one."""
        if credential is None:
            return None
        if credential.startswith(PREFIX + "_"):
            if self.api_keys is None:
                raise AuthFailure("API keys are not accepted here")
            principal = self.api_keys.cached(credential)
            if principal is None:
                async with self._verifications:
                    principal = await asyncio.to_thread(self.api_keys.verify, credential)
            if principal is None:
                raise AuthFailure("invalid, expired or revoked API key")
            return principal
        if self.jwt is None:
            raise AuthFailure("invalid API key (bearer tokens are not configured)")
        principal = self.jwt.cached(credential)
        if principal is not None:
            return principal
        try:
            return await asyncio.to_thread(self.jwt.validate, credential)
        except TokenError as e:
            raise AuthFailure(str(e)) from None
