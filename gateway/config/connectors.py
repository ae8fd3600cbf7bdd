"""An asset's `source:` and points, and a forwarder's `sink:`, validated with their connector's models.

The registry (`connectors.registry`) is the only place connector types are known. From it this
module builds, per source connector, an AssetConfig subclass whose `source` is the connector's
config model and whose points are PointConfig merged with the connector's point model (the YAML
stays flat: `{node: ..., path: ..., type: ...}`), and a tagged union of those, chosen by the
source's `type` (optional for the default source, OPC UA). Sinks likewise, by the sink's `type`.
The models are rebuilt when the registry changes (a connector registered after the first config
was read counts from the next one on).

pydantic puts the union's tag into error locations (``assets.0.opcua.points.1.node``); the user
wrote no such key, so `gateway/config/errors.py` drops it (`union_tag_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import GenericAlias
from typing import Annotated, Any, Union, cast

from pydantic import Discriminator, Field, Tag, TypeAdapter, create_model

from connectors import registry
from connectors.config_base import ConnectorConfig
from connectors.registry import SourceRole
from gateway.config.assets import AssetConfig, PointConfig

_point_models: dict[SourceRole[Any, Any], type[PointConfig]] = {}
_asset_models: dict[SourceRole[Any, Any], type[AssetConfig]] = {}
_adapters: dict[str, tuple[int, TypeAdapter[Any]]] = {}


def point_model(role: SourceRole[Any, Any]) -> type[PointConfig]:
    """PointConfig with the connector's point fields, e.g. `node` and `deadband` for OPC UA."""
    cls = _point_models.get(role)
    if cls is None:
        clash = sorted(set(role.point.model_fields) & set(PointConfig.model_fields))
        if clash:
            raise ValueError(f"{role.point.__name__} redefines {', '.join(clash)}: fields every point has")
        cls = cast(type[PointConfig], create_model(f"PointConfig_{role.point.__name__}",
                                                   __base__=(PointConfig, role.point), __module__=__name__))
        _point_models[role] = cls
    return cls


def asset_model(role: SourceRole[Any, Any]) -> type[AssetConfig]:
    """AssetConfig whose source is the connector's config model and whose points carry its point fields."""
    cls = _asset_models.get(role)
    if cls is None:
        points: Any = GenericAlias(list, (point_model(role),))  # list[<the class built above>]
        cls = create_model(f"AssetConfig_{role.config.__name__}", __base__=AssetConfig, __module__=__name__,
                           source=(role.config, ...), points=(points, Field(min_length=1)))
        _asset_models[role] = cls
    return cls


def source_tag(asset: Any) -> str | None:
    """The connector type of an asset (raw or validated): its source's `type`, else the default source's."""
    if isinstance(asset, AssetConfig):
        return asset.source.type
    src = asset.get("source") if isinstance(asset, dict) else None
    tag = src.get("type") if isinstance(src, dict) else getattr(src, "type", None)
    if tag is None:
        return registry.default_source_type()  # `source` left out or not a mapping: its model reports that
    return str(tag)


def sink_tag(sink: Any) -> str | None:
    tag = sink.get("type") if isinstance(sink, dict) else getattr(sink, "type", None)
    return None if tag is None else str(tag)


def _tagged_union(members: dict[str, type[Any]], tag_of: Any) -> Any:
    if len(members) == 1:  # pydantic wants two or more members for a tagged union
        return next(iter(members.values()))
    tagged = tuple(Annotated[cls, Tag(tag)] for tag, cls in members.items())
    return Annotated[Union[tagged], Discriminator(tag_of)]  # noqa: UP007  (a runtime-built union)


def _adapter(kind: str) -> TypeAdapter[Any]:
    gen = registry.generation()
    cached = _adapters.get(kind)
    if cached is not None and cached[0] == gen:
        return cached[1]
    if kind == "assets":
        members = {d.type: asset_model(d.source) for d in registry.descriptors() if d.source is not None}
        union: Any = _tagged_union(members, source_tag)
        assets: Any = GenericAlias(list, (union,))
        adapter: TypeAdapter[Any] = TypeAdapter(assets)
    else:
        sinks = {d.type: d.sink.config for d in registry.descriptors() if d.sink is not None}
        adapter = TypeAdapter(_tagged_union(sinks, sink_tag))
    _adapters[kind] = (gen, adapter)
    return adapter


def validate_assets(assets: Any) -> list[AssetConfig]:
    """Raw `assets:` -> each asset validated by its source connector's models (ValidationError otherwise)."""
    if isinstance(assets, Sequence) and not isinstance(assets, str):
        for tag in {source_tag(a) for a in assets}:
            if tag is not None:
                registry.find(tag)  # an unknown type gets one look at installed entry points
    return list(_adapter("assets").validate_python(assets))


def validate_sink(sink: Any) -> ConnectorConfig:
    """A raw `sink:` -> the sink connector's config model, chosen by `type`."""
    tag = sink_tag(sink)
    if tag is not None:
        registry.find(tag)
    out: ConnectorConfig = _adapter("sinks").validate_python(sink)
    return out
