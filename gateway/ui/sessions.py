"""Dashboard sessions: a cookie naming a server-side session, and the CSRF rule for every write.

A browser cannot hold an API key or a bearer token safely (script could read it), so signing in
(with an API key, or through the IdP) creates a session here and gives the browser only its random
id, in an `HttpOnly; SameSite=Strict` cookie (`Secure` over HTTPS). The access middleware
(gateway/api/access.py) takes that cookie as a credential when a request carries no
`Authorization`/`X-API-Key` header, with the same roles and the same audit name as the key or
token it came from:

* a session signed in with an API key keeps the key (in memory, never in the cookie) and checks it
  again on every request, a dictionary lookup once verified: a key revoked meanwhile ends the
  session on its next request;
* a session signed in through OIDC keeps the principal the access token granted at sign-in.

Writes (every method but GET/HEAD) with the cookie need the session's CSRF token in the
`X-CSRF-Token` header (the page gets it from `GET /ui/api/session`, a same-origin read another site
cannot make), and are refused when the browser says the request comes from another site
(`Sec-Fetch-Site: cross-site`, or an `Origin` that is not this host). A session ends after
`session_idle_minutes` without a request of its user (the live stream does not count: a dashboard
left open is not a user at work), `session_max_hours` after sign-in, or at sign-out.
Sessions live in memory: a restart signs everybody out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.auth.policy import AccessPolicy, AuthFailure, SessionRefused
from gateway.auth.principal import Principal

Scope = MutableMapping[str, Any]  # an ASGI connection scope (what starlette.types.Scope names)

COOKIE_NAME = "agw_session"
CSRF_HEADER = b"x-csrf-token"
STREAM_PATH = "/ui/api/stream"
_READ = frozenset({"GET", "HEAD"})


@dataclass(eq=False)
class Session:
    key: bytes  # sha256 of the cookie value: the store never keeps the value itself
    csrf: str
    principal: Principal
    credential: str | None  # the API key it was opened with, checked again on every request
    method: str  # "apikey" | "oidc"
    created: float
    last_seen: float
    ends: float  # created + max age

    def expiry(self, idle_s: float) -> float:
        return min(self.last_seen + idle_s, self.ends)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def cookie_value(scope: Scope) -> str | None:
    """The session cookie of a request, if it has one."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE_NAME and v:
                    return v
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def cross_site(scope: Scope) -> bool:
    """True when the browser says the request comes from another site (Fetch Metadata, else Origin)."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    host = _header(scope, b"host")
    return origin == "null" or host is None or urlsplit(origin).netloc.lower() != host.lower()


class SessionStore:
    def __init__(self, policy: AccessPolicy, idle_s: float, max_s: float, max_sessions: int = 1000,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.idle_s = idle_s
        self.max_s = max_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[bytes, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, principal: Principal, credential: str | None, method: str) -> tuple[str, Session]:
        """A new session; returns (the cookie value, shown only to its browser, and the session)."""
        self._expire()
        if len(self._sessions) >= self.max_sessions:  # the oldest go first
            oldest = sorted(self._sessions, key=lambda k: self._sessions[k].created)
            for key in oldest[: max(1, self.max_sessions // 10)]:
                del self._sessions[key]
        token = secrets.token_urlsafe(32)
        now = self.clock()
        s = Session(_digest(token), secrets.token_urlsafe(32), principal, credential, method, now, now,
                    now + self.max_s)
        self._sessions[s.key] = s
        return token, s

    def lookup(self, token: str | None) -> Session | None:
        """The live session of a cookie value (an expired one is ended here)."""
        if not token:
            return None
        s = self._sessions.get(_digest(token))
        if s is None:
            return None
        if self.clock() >= s.expiry(self.idle_s):
            del self._sessions[s.key]
            return None
        return s

    def alive(self, s: Session) -> bool:
        """Whether `s` still holds (the live stream asks this; it does not count as activity)."""
        if self._sessions.get(s.key) is not s:
            return False
        if self.clock() >= s.expiry(self.idle_s):
            del self._sessions[s.key]
            return False
        return True

    def end(self, s: Session) -> None:
        self._sessions.pop(s.key, None)

    def end_all(self) -> None:
        self._sessions.clear()

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if now >= s.expiry(self.idle_s)]:
            del self._sessions[key]

    # --- the access middleware's view -------------------------------------------------------------

    async def authenticate(self, scope: Scope) -> Principal | None:
        """The principal of a request's session cookie; None without a live session. Raises SessionRefused
        for a write without the session's CSRF token or from another site."""
        s = self.lookup(cookie_value(scope))
        if s is None:
            return None
        if scope["method"] not in _READ:
            if cross_site(scope):
                raise SessionRefused("forbidden: a write with the dashboard's session must come from its own pages")
            sent = _header(scope, CSRF_HEADER)
            if sent is None or not hmac.compare_digest(sent.encode("latin-1"), s.csrf.encode()):
                raise SessionRefused("forbidden: a write with the dashboard's session needs its CSRF token in the "
                                     "X-CSRF-Token header")
        principal = s.principal
        if s.credential is not None:  # the API key may have been revoked or expired since
            try:
                checked = await self.policy.authenticate(s.credential)
            except AuthFailure:
                checked = None
            if checked is None:
                self.end(s)
                return None
            principal = checked
        if scope["path"] != STREAM_PATH:
            s.last_seen = self.clock()
        scope.setdefault("state", {})["session"] = s
        return principal

    # --- cookies ------------------------------------------------------------------------------

    @staticmethod
    def set_cookie(token: str, secure: bool) -> str:
        # no Max-Age: the browser forgets it when closed; the server ends it by idle time and age anyway
        return f"{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")

    @staticmethod
    def clear_cookie(secure: bool) -> str:
        return f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
