"""An asset's section of the config: the machine's identity, nameplate and points.

Apart from `models` so that `connectors` (which derives a model per source connector from
`AssetConfig` and `PointConfig`) and `models` (which validates `assets:` with those) import it
without importing each other.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from aas_models.datatypes import NUMERIC_TYPES, canonical_value_type, parse_point_type
from aas_models.idshort import check_id_short, check_id_short_path
from connectors import registry
from connectors.config_base import ConnectorConfig, KeyedError, PointFields, StrictModel
from gateway.kpi.config import KpiConfig

if TYPE_CHECKING:
    from connectors.registry import SourceRole

# a config names a handful of types for thousands of points: resolve each name once
_canonical_type = functools.lru_cache(maxsize=1024)(canonical_value_type)


class NameplateAddress(StrictModel):
    street: str | None = None
    zipcode: str | None = None
    city_town: str | None = None
    national_code: str | None = Field(None, description="ISO 3166-1 country code, e.g. DE, KR")


class NameplateConfig(StrictModel):
    """Digital Nameplate (IDTA 02006) data of the machine."""

    manufacturer_name: str
    manufacturer_product_designation: str
    uri_of_the_product: str | None = None
    order_code: str | None = None
    serial_number: str | None = None
    year_of_construction: str | None = None
    date_of_manufacture: str | None = None
    hardware_version: str | None = None
    firmware_version: str | None = None
    software_version: str | None = None
    country_of_origin: str | None = None
    address: NameplateAddress | None = None


class PointConfig(PointFields):
    """One data point: where it lands in the AAS and what type it has.

    Where it comes from (OPC UA `node`, MQTT `pointer` ...) are the fields of the asset's source's
    point model; a validated point is an instance of a class deriving from both
    (`gateway/config/connectors.py`), so `point.address()` and the connector's fields work on it.
    """

    submodel: str = Field("OperationalData", description="idShort of the target submodel")
    path: str = Field(description="idShortPath inside the submodel, e.g. 'Spindle.Speed'")
    type: str = Field(description="AAS valueType (xs:double ...) or OPC UA built-in type name (Double, "
                      "LocalizedText, Structure ...), [] per array dimension (Double[])")
    unit: str | None = None
    semantic_id: str | None = None
    description: str | None = None
    writable: bool = False

    @field_validator("submodel")
    @classmethod
    def _submodel(cls, v: str) -> str:
        return check_id_short(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_id_short_path(v)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return _canonical_type(v)

    @model_validator(mode="after")
    def _fits_type(self) -> PointConfig:
        self.check_type(self.type, self.type in NUMERIC_TYPES)  # the protocol's fields, e.g. a deadband
        if self.writable and not parse_point_type(self.type).is_scalar_property:
            raise KeyedError("writable", f"{self.type} values cannot be written to the machine; only single "
                             "values (numbers, booleans, strings, date-times, ByteString, Guid, NodeId, ...) can")
        return self

    def source_address(self) -> str | None:
        """The point's address at its source as text (node id, browse path, topic#pointer), for documentation."""
        return self.address()


class AssetConfig(StrictModel):
    """One machine: its AAS identity, its source and its points.

    `source` and `points` are validated with the models of the source's connector (a subclass per
    connector type, built from the registry), so `source` is e.g. an OpcUaSourceConfig and each
    point also an OpcUaPointConfig.
    """

    id_short: str
    id: str = Field(description="AAS identifier (IRI), stable for the life of the asset")
    global_asset_id: str
    description: str | None = None
    nameplate: NameplateConfig | None = None
    source: SerializeAsAny[ConnectorConfig]
    points: list[SerializeAsAny[PointConfig]] = Field(min_length=1)
    kpi: KpiConfig | None = Field(None, description="ISO 22400 KPIs of this asset (gateway/kpi)")

    @field_validator("id_short")
    @classmethod
    def _id_short(cls, v: str) -> str:
        return check_id_short(v)

    @model_validator(mode="after")
    def _connector_checks(self) -> AssetConfig:
        """What the source's connector checks across the source and its points (e.g. an MQTT topic for each)."""
        check = self.connector.check_asset
        for key, message in check(self.source, self.points) if check is not None else ():
            raise KeyedError(key, message)  # one at a time, like the other cross-checks
        return self

    @model_validator(mode="after")
    def _unique_paths(self) -> AssetConfig:
        """No two points share a path, and no path is both a Property and the collection holding another.

        Linear in points (times path depth): every path and each of its proper prefixes is looked up once.
        """
        seen: dict[tuple[str, str], int] = {}  # (submodel, path) -> index of the point using it
        parents: dict[tuple[str, str], int] = {}  # (submodel, proper prefix of a path) -> first point below it
        for i, p in enumerate(self.points):
            key = (p.submodel, p.path)
            if key in seen:
                raise KeyedError(f"points[{i}].path", f"{p.submodel}/{p.path} is already used by points[{seen[key]}]")
            if key in parents:  # this path is the collection of an earlier point
                j = parents[key]
                raise KeyedError(f"points[{i}].path", f"{p.path} collides with points[{j}] ({self.points[j].path})")
            prefixes = []
            dot = p.path.find(".")
            while dot != -1:
                prefixes.append((p.submodel, p.path[:dot]))
                dot = p.path.find(".", dot + 1)
            for pk in prefixes:  # an earlier point is a Property where this one needs a collection
                if pk in seen:
                    raise KeyedError(f"points[{i}].path", f"{p.path} collides with points[{seen[pk]}] ({pk[1]})")
            seen[key] = i
            for pk in prefixes:
                parents.setdefault(pk, i)
        return self

    @property
    def connector(self) -> SourceRole[Any, Any]:
        """The registered source connector of this asset."""
        return registry.source(self.source.type)
