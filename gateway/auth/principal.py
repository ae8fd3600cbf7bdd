"""Who is calling: the result of authentication, read by authorisation, handlers and the audit log.

Also the one definition of the roles. Standard library only: the `apikey` command lists the roles
in its `--help` without loading pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["reader", "operator", "admin"]
ROLES: tuple[Role, ...] = ("reader", "operator", "admin")  # lowest first

Method = Literal["apikey", "jwt", "anonymous"]

# a role grants itself and every role below it: operator can read, admin can do everything
IMPLIED: dict[str, frozenset[str]] = {
    "reader": frozenset({"reader"}),
    "operator": frozenset({"reader", "operator"}),
    "admin": frozenset({"reader", "operator", "admin"}),
}


def expand(roles: set[str] | frozenset[str] | list[str]) -> frozenset[str]:
    """The roles granted, with the implied ones; unknown names grant nothing."""
    out: set[str] = set()
    for r in roles:
        out |= IMPLIED.get(r, frozenset())
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # "apikey:<id>/<name>", "jwt:<sub>", "anonymous": what the audit log names as the actor
    roles: frozenset[str]
    method: Method

    def has(self, role: Role) -> bool:
        return role in self.roles


ANONYMOUS_READER = Principal("anonymous", frozenset({"reader"}), "anonymous")
