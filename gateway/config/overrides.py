"""Deriving a changed config from a validated one (`GatewayConfig.with_overrides`), without mutating it.

An override names a key the way config errors do (``api.port``, ``assets[0].source.endpoint``).
The model that owns the key is validated again with its current values and the new one, so a bad
value is refused with the same message the file would get; the models above it are copied with
the new child. Cross-checks of the whole file (unique names, KPI and detection references) are
not re-run: overrides are meant for ports, paths, endpoints and switches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.config.errors import ConfigError, ConfigIssue, format_loc, pydantic_issues

M = TypeVar("M", bound=BaseModel)

_KEY = re.compile(r"[A-Za-z_]\w*(?:(?:\[\d+\])*\.[A-Za-z_]\w*)*")  # ends with a key, not an index
_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def parse_key(key: str) -> list[str | int]:
    """'assets[0].source.endpoint' -> ['assets', 0, 'source', 'endpoint']; ValueError if it is no key path."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not a key path like api.port or assets[0].source.endpoint")
    return [m.group(1) if m.group(1) else int(m.group(2)) for m in _PART.finditer(key)]


def apply(cfg: M, overrides: Mapping[str, Any], file: str = "<config>") -> M:
    """`cfg` with every override applied (see the module doc); ConfigError listing every bad one."""
    issues: list[ConfigIssue] = []
    for key, value in overrides.items():
        try:
            parts = parse_key(key)
            cfg = _set(cfg, parts, value, [])
        except _Invalid as e:
            issues.extend(pydantic_issues(e.error, e.loc))
        except _BadKey as e:
            issues.append(ConfigIssue(format_loc(e.loc), e.message))
        except ValueError as e:
            issues.append(ConfigIssue(key, str(e)))
    if issues:
        raise ConfigError(f"{file} (overridden)", issues)
    return cfg


class _Invalid(Exception):
    def __init__(self, loc: list[str | int], error: ValidationError) -> None:
        super().__init__(str(error))
        self.loc = loc  # where the model that refused the value sits in the config
        self.error = error


class _BadKey(Exception):
    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _set(obj: Any, parts: list[str | int], value: Any, loc: list[str | int]) -> Any:
    head, rest = parts[0], parts[1:]
    here = [*loc, head]
    if isinstance(obj, BaseModel):
        if not isinstance(head, str) or head not in type(obj).model_fields:
            raise _BadKey(here, "unknown key (typo?)")
        if not rest:  # the owner of the key: validated again, with the values it has and the new one
            data = {name: getattr(obj, name) for name in obj.model_fields_set}
            data[head] = value
            try:
                return type(obj).model_validate(data)
            except ValidationError as e:
                raise _Invalid(loc, e) from None
        return obj.model_copy(update={head: _set(getattr(obj, head), rest, value, here)})
    if isinstance(obj, list | tuple) and isinstance(head, int):
        if not -len(obj) <= head < len(obj):
            raise _BadKey(here, f"no such item (there are {len(obj)})")
        items = list(obj)
        items[head] = _set(obj[head], rest, value, here)
        return type(obj)(items)
    raise _BadKey(here, "no such key")
