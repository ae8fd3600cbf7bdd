"""Reading a config: YAML, `${...}` secrets, validation, paths resolved, every problem reported at once.

Secrets are written as ``${ENV_VAR}`` (``${ENV_VAR:-default}``) or ``${file:/run/secrets/name}`` and
are substituted before validation; they are held as SecretStr and never logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.errors import ConfigError, ConfigIssue, format_loc, pydantic_issues
from gateway.config.models import GatewayConfig
from gateway.config_yaml import gc_paused, load_yaml

_SUBST = re.compile(r"\$\{([^}]*)\}")


def _substitute(node: Any, loc: tuple[Any, ...], issues: list[ConfigIssue], env: dict[str, str],
                secrets: bool = True) -> Any:
    if isinstance(node, dict):
        # values without a ${...} (nearly all of them) are kept without a call each: configs have 100,000s
        return {k: v if _plain(v) else _substitute(v, (*loc, k), issues, env, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [v if _plain(v) else _substitute(v, (*loc, i), issues, env, secrets) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def repl(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("file:"):
            path = expr[5:]
            try:
                return Path(path).read_text().strip()
            except OSError as e:
                if not secrets:
                    return ""
                issues.append(ConfigIssue(format_loc(loc), f"cannot read secret file {path}: {e.strerror}"))
                return ""
        name, sep, default = expr.partition(":-")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            issues.append(ConfigIssue(format_loc(loc), f"bad substitution ${{{expr}}}"))
            return ""
        if name in env:
            return env[name]
        if sep:
            return default
        if not secrets:
            return ""
        issues.append(ConfigIssue(format_loc(loc), f"environment variable {name} is not set"))
        return ""

    return _SUBST.sub(repl, node)


def _plain(v: Any) -> bool:
    """A leaf with nothing to substitute."""
    return (type(v) is str and "${" not in v) or v is None or type(v) in (int, float, bool)


def parse_config(data: Any, file: str = "<config>", env: dict[str, str] | None = None,
                 config_dir: Path | None = None, *, secrets: bool = True) -> GatewayConfig:
    """Validate an already-parsed YAML document and resolve its paths (relative to `config_dir` if given,
    else left relative to the working directory); ConfigError lists every problem.

    `secrets=False` reads a config for its paths and settings where the sources' secrets are not at hand
    (`backup`, `report`, `audit verify` from cron): an unset `${VAR}` or unreadable `${file:...}` becomes
    an empty string instead of an error. Never start a gateway from such a config."""
    if not isinstance(data, dict):
        raise ConfigError(file, [ConfigIssue("", "the file must hold a mapping (key: value) at the top level")])
    issues: list[ConfigIssue] = []
    data = _substitute(data, (), issues, dict(os.environ) if env is None else env, secrets)
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as e:
        issues.extend(pydantic_issues(e))
        raise ConfigError(file, issues) from None
    if issues:
        raise ConfigError(file, issues)
    return cfg.resolve_paths(config_dir, file)


def load_config(path: str | Path, env: dict[str, str] | None = None, *, secrets: bool = True) -> GatewayConfig:
    """Read, substitute, validate and resolve a config file: the result is final and immutable.

    Every path in it is absolute (relative ones in the file are relative to its folder; the PKI, audit
    log, API key file and detector state default to beside the historian): see gateway/config/paths.py.
    Raises ConfigError listing every problem. Derive a changed config with `with_overrides`.
    `secrets=False`: see `parse_config`.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(file, [ConfigIssue("", f"cannot read: {e.strerror}")]) from None
    try:
        with gc_paused():  # see config_yaml: 100,000 points load in about a second
            data = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(file, [ConfigIssue("", f"{where}invalid YAML: {problem}")]) from None
    with gc_paused():
        return parse_config(data, file, env, config_dir=Path(path).resolve().parent, secrets=secrets)


def with_overrides(cfg: GatewayConfig, overrides: Mapping[str, Any]) -> GatewayConfig:
    """`cfg.with_overrides(overrides)`: the sanctioned way to derive a changed config (see there)."""
    return cfg.with_overrides(overrides)
