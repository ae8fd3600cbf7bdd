"""The sections of the gateway's YAML configuration, as frozen pydantic models.

Connector-specific parts are not written here: an asset's `source:` and the protocol fields of its
points, and a forwarder's `sink:`, are validated with the models the connector registered
(`connectors.registry`, dispatched in `gateway/config/connectors.py`). The static types below
(`ConnectorConfig`, `PointConfig`) are the bases those models derive from.

Validation raises pydantic's ValidationError; `gateway/config/loading.py` turns it into a
ConfigError whose every issue names the key (``assets[2].points[5].node``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, SerializeAsAny, field_validator, model_validator

from aas_models.datatypes import NUMERIC_TYPES, canonical_value_type, parse_point_type
from aas_models.idshort import check_id_short, check_id_short_path
from connectors import registry
from connectors.config_base import ConfigPath, ConnectorConfig, KeyedError, PointFields, StrictModel
from connectors.opcua.config import PkiConfig
from gateway.audit import AuditConfig
from gateway.auth.config import ApiAuthConfig, ApiLimitsConfig, ApiTlsConfig, CorsConfig
from gateway.detect.config import DetectionConfig
from gateway.detect.config import check as check_detection
from gateway.kpi.config import KpiConfig, check_points

if TYPE_CHECKING:
    from connectors.registry import SinkRole, SourceRole

# a config names a handful of types for thousands of points: resolve each name once
_canonical_type = functools.lru_cache(maxsize=1024)(canonical_value_type)


class GatewayIdentity(StrictModel):
    name: str = "aas-edge-gateway"
    id: str = Field("urn:aas-gateway:edge", description="IRI identifying this gateway")


class LoggingConfig(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class ApiConfig(StrictModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    auth: ApiAuthConfig = ApiAuthConfig()
    tls: ApiTlsConfig | None = Field(None, description="serve HTTPS with this certificate and key")
    cors: CorsConfig = CorsConfig()
    limits: ApiLimitsConfig = ApiLimitsConfig()
    http: Literal["httptools", "h11"] = Field(
        "httptools", description="uvicorn's HTTP parser: httptools (fast, the default) or h11 (pure Python)")


class RetentionConfig(StrictModel):
    """Forwarded samples go by age and size; samples a forwarder still needs stay, up to `max_disk_mb`."""

    max_age_days: float | None = Field(365.0, gt=0, description="delete samples older than this")
    max_size_mb: float | None = Field(10240.0, gt=0, description="delete oldest samples above this size")
    max_disk_mb: float | None = Field(
        None, gt=0, description="hard cap: above it the oldest samples go even if a forwarder has not sent them "
        "(counted and logged as lost for that forwarder)")
    check_interval_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _caps(self) -> RetentionConfig:
        if self.max_disk_mb is not None and self.max_size_mb is not None and self.max_disk_mb < self.max_size_mb:
            raise KeyedError("max_disk_mb", "must be at least max_size_mb (it is the hard cap above it)")
        return self


class HistorianSettings(StrictModel):
    """The embedded SQLite historian."""

    path: ConfigPath = Field(Path("data/historian.sqlite"), description="relative to the config file")
    synchronous: Literal["normal", "full"] = Field(
        "full", description="'full' survives power loss, 'normal' survives process crashes"
    )
    commit_interval_ms: float = Field(200.0, ge=0, description="max time a sample waits to be committed")
    max_batch: int = Field(20000, ge=1, description="max rows per transaction")
    max_pending: int = Field(500000, ge=1000, description="queued rows before sources are slowed down")
    retention: RetentionConfig = RetentionConfig()


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


class ForwarderConfig(StrictModel):
    """A northbound target fed from the historian by its own cursor (store and forward)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="names the persisted cursor: keep it stable")
    start_from: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new cursor starts: everything in the historian, or only new samples")
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    historical_after_s: float = Field(10.0, gt=0, description="samples sent later than this are flagged replays")
    sink: SerializeAsAny[ConnectorConfig] = Field(description="a registered sink connector's settings, by `type`")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == "historian":  # dead_letters.forwarder = 'historian' holds what the historian itself refused
            raise ValueError("'historian' is reserved (it names the historian's own dead letters); pick another name")
        return v

    @field_validator("sink", mode="before")
    @classmethod
    def _by_connector(cls, v: Any) -> Any:
        from gateway.config.connectors import validate_sink

        return validate_sink(v)

    @property
    def connector(self) -> SinkRole[Any]:
        """The registered sink connector of this forwarder."""
        return registry.sink(self.sink.type)

    @property
    def connector_name(self) -> str:
        """How people call the sink's connector ("InfluxDB")."""
        d = registry.find(self.sink.type)
        return d.name if d is not None else self.sink.type


@dataclass(frozen=True)
class ConfigOrigin:
    """Where a config came from, so a derived one (`with_overrides`) resolves its paths the same way."""

    file: str  # the config file as given, or "<config>"
    config_dir: Path | None  # the folder relative paths are relative to (None: left relative to the cwd)
    unresolved: GatewayConfig  # the config as validated, before its paths were resolved


class GatewayConfig(StrictModel):
    gateway: GatewayIdentity = GatewayIdentity()
    logging: LoggingConfig = LoggingConfig()
    api: ApiConfig = ApiConfig()
    historian: HistorianSettings = HistorianSettings()
    pki: PkiConfig = PkiConfig()
    audit: AuditConfig = AuditConfig()
    forwarders: list[ForwarderConfig] = []
    detection: DetectionConfig = DetectionConfig()
    assets: list[SerializeAsAny[AssetConfig]] = Field(min_length=1)

    _origin: ConfigOrigin | None = PrivateAttr(None)

    @field_validator("assets", mode="before")
    @classmethod
    def _by_connector(cls, v: Any) -> Any:
        from gateway.config.connectors import validate_assets

        return validate_assets(v)

    @model_validator(mode="after")
    def _detection_references(self) -> GatewayConfig:
        issues = check_detection(self)
        if issues:
            raise KeyedError(*issues[0])  # one at a time, like the other cross-checks
        return self

    @model_validator(mode="after")
    def _unique_forwarders(self) -> GatewayConfig:
        seen: dict[str, int] = {}
        for i, f in enumerate(self.forwarders):
            if f.name in seen:
                raise KeyedError(f"forwarders[{i}].name", f"{f.name!r} is already used by forwarders[{seen[f.name]}]")
            seen[f.name] = i
        return self

    @model_validator(mode="after")
    def _unique_assets(self) -> GatewayConfig:
        for attr in ("id_short", "id"):
            seen: dict[str, int] = {}
            for i, a in enumerate(self.assets):
                v = getattr(a, attr)
                if v in seen:
                    raise KeyedError(f"assets[{i}].{attr}", f"{v!r} is already used by assets[{seen[v]}]")
                seen[v] = i
        return self

    @model_validator(mode="after")
    def _kpi_points(self) -> GatewayConfig:
        for key, message in check_points(self):
            raise KeyedError(key, message)
        return self

    @property
    def origin(self) -> ConfigOrigin | None:
        """Where this config came from (None for a config that was validated but never resolved)."""
        return self._origin

    def resolve_paths(self, config_dir: Path | None, file: str = "<config>") -> GatewayConfig:
        """This config with every path resolved (see `gateway/config/paths.py`); ConfigError if a file is bad.

        Called by `parse_config` and `load_config`; the result remembers the config as validated, so that
        `with_overrides` resolves a changed one consistently (a moved historian takes the PKI, audit log,
        key file and detector state that follow it along).
        """
        from gateway.config.paths import resolve

        unresolved = self._origin.unresolved if self._origin is not None else self
        out = resolve(unresolved, config_dir, file)
        out._origin = ConfigOrigin(file, config_dir, unresolved)
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> GatewayConfig:
        """A new config with `overrides` applied, validated and resolved like the file; this one is unchanged.

        Keys are key paths as config errors name them: ``{"api.port": 0, "historian.path": "/srv/h.sqlite",
        "assets[0].source.endpoint": "opc.tcp://127.0.0.1:4841/"}``. The model owning each key is validated
        again with the new value (a bad one raises ConfigError naming the key); paths are resolved like the
        file's (relative = relative to the config file's folder: pass absolute paths for the cwd's), and
        everything derived from an overridden path follows it (the PKI, audit log, key file and detector
        state beside a moved historian, unless the file set them).
        """
        from gateway.config.overrides import apply

        origin = self._origin
        base = origin.unresolved if origin is not None else self
        changed = apply(base, overrides, origin.file if origin is not None else "<config>")
        return changed.resolve_paths(origin.config_dir if origin is not None else None,
                                     origin.file if origin is not None else "<config>")


def source_endpoint(src: ConnectorConfig) -> str:
    """Where an asset's data comes from, for status displays (never with credentials)."""
    return registry.source(src.type).endpoint(src)


def source_summary(src: ConnectorConfig) -> str:
    """One line on an asset's source for `check-config` (never with credentials)."""
    role = registry.source(src.type)
    return (role.summary or role.endpoint)(src)
