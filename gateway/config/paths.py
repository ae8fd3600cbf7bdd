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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel

from connectors.config_base import RelativeToConfig
from gateway.auth.apikeys import default_keys_file

M = TypeVar("M", bound=BaseModel)

HISTORIAN_NAME = "historian.sqlite"


@dataclass(frozen=True)
class DataLayout:
    """What a gateway keeps in one data directory (the folder of its historian), unless the config moves it."""

    historian: Path
    pki: Path
    keys_file: Path
    audit: Path
    detect_state: Path


def in_data_dir(data_dir: Path) -> DataLayout:
    """The default layout inside one data directory: the one definition of these names."""
    historian = data_dir / HISTORIAN_NAME
    return DataLayout(historian, data_dir / "pki", default_keys_file(historian), data_dir / "audit" / "audit.jsonl",
                      data_dir / "detect-state.json")


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
