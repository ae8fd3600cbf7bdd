"""What aas_models needs to know of an asset, independent of the gateway's config format.

The gateway translates its YAML config into these dataclasses; aas_models builds
the BaSyx objects from them. Keeping this boundary means aas_models imports
BaSyx only and can be tested (and reused) without the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PointSpec:
    point_id: str  # "{asset}/{submodel}/{idShortPath}", the id every Sample carries
    submodel: str  # idShort of the target submodel, e.g. "OperationalData"
    path: str  # idShortPath inside it, e.g. "Spindle.Speed" (collections are created for the prefixes)
    value_type: str  # canonical xs: type, see aas_models.datatypes
    unit: str | None = None
    semantic_id: str | None = None
    description: str | None = None
    writable: bool = False
    source_address: str | None = None  # e.g. the OPC UA node id or browse path, for documentation


@dataclass(frozen=True)
class AssetSpec:
    id: str  # AAS identifier (IRI/URN)
    id_short: str
    global_asset_id: str
    points: tuple[PointSpec, ...]
    description: str | None = None
    nameplate: dict[str, Any] | None = None  # keys as gateway.config.NameplateConfig (snake_case)
    endpoint: str = ""  # the source endpoint (e.g. opc.tcp://...), shown in the status submodel
    protocol: str = "opcua"
    history_url: str | None = None  # base URL of this gateway's history route, for the TimeSeries LinkedSegment
    extra: dict[str, Any] = field(default_factory=dict)
