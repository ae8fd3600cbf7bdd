"""An access policy that lets every request in as an admin: for tests of the routes themselves.

It lives with the tests on purpose: the gateway has no way to serve its API without authentication.
"""

from __future__ import annotations

from gateway.auth.policy import AccessPolicy
from gateway.auth.principal import IMPLIED, Principal

OPEN_ADMIN = Principal("open-for-tests", IMPLIED["admin"], "apikey")


class OpenPolicy(AccessPolicy):
    def describe(self) -> str:
        return "OPEN FOR TESTS (no authentication)"

    async def authenticate(self, credential: str | None) -> Principal | None:
        return OPEN_ADMIN


def open_policy() -> AccessPolicy:
    """Every request is treated as an admin."""
    return OpenPolicy()
