"""Every path of a config resolved once, when it is loaded, so that no user of it guesses again.

The rules (the same for the gateway and every CLI command, from any working directory):

* A relative path in the file is relative to the config file's folder: the historian, `pki.path`,
  `audit.path`, `api.auth.api_keys_file`, `api.auth.jwt.jwks_file`, `api.tls` files, KPI calendar
  files (`kpi.calendar.ical`), and every file a connector marks as one (`ConfigFile`: OPC UA
  certificates and keys, MQTT and InfluxDB CA bundles and client certificates ...).
* What the gateway keeps with its data lives beside the historian unless the file says otherwise:
  `pki/`, `audit/audit.jsonl`, `api-keys.json`, `detect-state.json` (a relative
  `detection.state_path` is relative to the historian's folder).

A config parsed without a file (`parse_config` without `config_dir`) keeps relative paths relative
(to the working directory, as before), but the things beside the historian are still filled in.
The result is a new config: validated models are never changed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel

from connectors.config_base import RelativeToConfig
from gateway.auth.apikeys import default_keys_file
from gateway.config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from gateway.config.models import GatewayConfig

M = TypeVar("M", bound=BaseModel)


def resolve(cfg: GatewayConfig, config_dir: Path | None, file: str = "<config>") -> GatewayConfig:
    """`cfg` (as validated) with every path resolved by the rules above; ConfigError for a bad calendar file."""
    def here(p: Path) -> Path:
        return p if config_dir is None or p.is_absolute() else config_dir / p

    historian = here(cfg.historian.path)
    data_dir = historian.parent
    pki = here(cfg.pki.path) if "path" in cfg.pki.model_fields_set else data_dir / "pki"
    audit = here(cfg.audit.path) if "path" in cfg.audit.model_fields_set else data_dir / "audit" / "audit.jsonl"
    auth = cfg.api.auth
    if auth.api_keys_file is None:
        auth = auth.model_copy(update={"api_keys_file": default_keys_file(historian)})
    state = cfg.detection.state_path
    state = data_dir / "detect-state.json" if state is None else state if state.is_absolute() else data_dir / state
    assets = cfg.assets
    issues: list[ConfigIssue] = []
    if any(a.kpi is not None and a.kpi.calendar.ical is not None for a in assets):
        assets = []
        for i, a in enumerate(cfg.assets):
            if a.kpi is not None:
                kpi, problem = a.kpi.with_calendar_resolved(config_dir)
                if problem is not None:
                    issues.append(ConfigIssue(f"assets[{i}].kpi.{problem[0]}", problem[1]))
                a = a.model_copy(update={"kpi": kpi})
            assets.append(a)
    if issues:
        raise ConfigError(file, issues)
    out = cfg.model_copy(update={
        "historian": cfg.historian.model_copy(update={"path": historian}),
        "pki": cfg.pki.model_copy(update={"path": pki}),
        "audit": cfg.audit.model_copy(update={"path": audit}),
        "api": cfg.api.model_copy(update={"auth": auth}),
        "detection": cfg.detection.model_copy(update={"state_path": state}),
        "assets": assets,
    })
    return out if config_dir is None else relative_to(out, config_dir)


def relative_to(model: M, base: Path) -> M:
    """`model` with every relative `ConfigFile`/`ConfigPath` in it (at any depth) made relative to `base`.

    Subtrees that cannot hold such a field (the points, mostly) are skipped by their class, so this
    stays cheap for 100,000 points.
    """
    info = _files_of(type(model))
    if info is None:
        return model
    marked, nested = info
    updates: dict[str, Any] = {}
    for name in marked:
        v = getattr(model, name)
        if isinstance(v, str | Path) and str(v) and not Path(v).is_absolute():
            updates[name] = type(v)(base / v)
    for name in nested:
        v = getattr(model, name)
        new = _in_value(v, base)
        if new is not v:
            updates[name] = new
    return model.model_copy(update=updates) if updates else model


def _in_value(v: Any, base: Path) -> Any:
    if isinstance(v, BaseModel):
        return relative_to(v, base)
    if isinstance(v, list | tuple):
        items = [_in_value(x, base) for x in v]
        return type(v)(items) if any(a is not b for a, b in zip(items, v, strict=True)) else v
    if isinstance(v, dict):
        d = {k: _in_value(x, base) for k, x in v.items()}
        return d if any(d[k] is not v[k] for k in v) else v
    return v


@functools.cache
def _files_of(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(fields marked RelativeToConfig, fields whose value may hold such fields), or None if neither."""
    marked, nested = [], []
    for name, field in cls.model_fields.items():
        if any(isinstance(m, RelativeToConfig) for m in field.metadata) or _marked(field.annotation):
            marked.append(name)
        elif any(_may_hold_files(m) for m in _models_in(field.annotation)):
            nested.append(name)
    return (tuple(marked), tuple(nested)) if marked or nested else None


def _marked(annotation: Any) -> bool:
    """Annotated[..., RelativeToConfig()] anywhere in it (pydantic lifts the marker only from the top)."""
    if get_origin(annotation) is Annotated:
        return any(isinstance(m, RelativeToConfig) for m in annotation.__metadata__)
    return any(_marked(arg) for arg in get_args(annotation))


def _may_hold_files(cls: type[BaseModel]) -> bool:
    # a class with subclasses stands for them all (an asset's `source` is some connector's config)
    return bool(cls.__subclasses__()) or _files_of(cls) is not None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes an annotation mentions (list[X], X | None, Annotated[X, ...] ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
