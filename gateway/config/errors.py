"""Config errors that name the file, the key path and what is wrong.

pydantic's errors are rewritten into `ConfigIssue(key, message)`: the key as the user wrote it
(``assets[2].points[5].node``, without pydantic's internal union tags and function names), the
message in plain words (``unknown key (typo?)``), a validator's KeyedError pointing at its sub-key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from connectors import registry


@dataclass(frozen=True)
class ConfigIssue:
    key: str
    message: str


class ConfigError(Exception):
    """A configuration file that cannot be used; `issues` lists every problem found."""

    def __init__(self, file: str, issues: list[ConfigIssue]) -> None:
        self.file = file
        self.issues = issues
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join(f"{self.file}: {i.key}: {i.message}" if i.key else f"{self.file}: {i.message}"
                         for i in self.issues)


def format_loc(loc: Iterable[Any]) -> str:
    """('assets', 2, 'points', 5, 'node') -> 'assets[2].points[5].node'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def pydantic_issues(err: ValidationError, prefix: Sequence[Any] = ()) -> list[ConfigIssue]:
    """One issue per pydantic error; `prefix` is the location of the validated model in the whole config."""
    issues = []
    for e in err.errors(include_url=False):
        loc: list[Any] = list(prefix)
        for part in e["loc"]:
            if isinstance(part, str) and part.startswith("function-"):
                continue
            role = union_tag_at(loc)
            if role is not None and part in (registry.source_types() if role == "source" else registry.sink_types()):
                continue  # pydantic names the union member; the user wrote no such key
            loc.append(part)
        key = format_loc(loc)
        ctx = e.get("ctx") or {}
        ctx_err = ctx.get("error")
        if isinstance(ctx_err, ValueError) and isinstance(getattr(ctx_err, "key", None), str):  # KeyedError & co
            key = f"{key}.{ctx_err.key}" if key else ctx_err.key  # type: ignore[attr-defined]
            msg = ctx_err.message  # type: ignore[attr-defined]
        elif e["type"] in ("union_tag_invalid", "union_tag_not_found") and union_tag_at(loc) is not None:
            role = union_tag_at(loc)
            key = f"{key}.source.type" if role == "source" else f"{key}.type"
            known = ", ".join(registry.source_types() if role == "source" else registry.sink_types())
            msg = (f"unknown {role} type {ctx.get('tag')!r} (known: {known})" if e["type"] == "union_tag_invalid"
                   else f"Field required (one of: {known})")
        else:
            msg = e["msg"]
            msg = msg.removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = _unknown_key(loc)
            elif e["type"] == "literal_error" and e.get("input") is not None:
                msg = f"{msg}, got {e['input']!r}"
        issues.append(ConfigIssue(key, msg))
    return issues


def _unknown_key(loc: Sequence[Any]) -> str:
    """'unknown key (typo?)', or, for a point field of another protocol, whose it is."""
    if len(loc) >= 5 and loc[0] == "assets" and loc[2] == "points" and isinstance(loc[-1], str):
        owners = [d.type for d in registry.descriptors()
                  if d.source is not None and loc[-1] in d.source.point.model_fields]
        if owners:
            return f"unknown key: '{loc[-1]}' is a point field of {' and '.join(owners)} sources, not of this one"
    return "unknown key (typo?)"


def union_tag_at(loc: Sequence[Any]) -> str | None:
    """'source' or 'sink' if `loc` (a pydantic error location so far) is where such a union's tag follows."""
    if len(loc) == 2 and loc[0] == "assets" and isinstance(loc[1], int):
        return "source"
    if len(loc) == 3 and loc[0] == "forwarders" and isinstance(loc[1], int) and loc[2] == "sink":
        return "sink"
    return None
