"""The sections of the gateway's YAML configuration, as frozen pydantic models.

Connector-specific parts are not written here: an asset's `source:` and the protocol fields of its
points, and a forwarder's `sink:`, are validated with the models the connector registered
(`connectors.registry`, dispatched in `gateway/config/connectors.py`). The static types below
(`ConnectorConfig`, `PointConfig`) are the bases those models derive from.

Validation raises pydantic's ValidationError; `gateway/config/loading.py` turns it into a
ConfigError whose every issue names the key (``assets[2].points[5].node``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, SerializeAsAny, field_validator, model_validator

from connectors import registry
from connectors.config_base import ConfigPath, ConnectorConfig, KeyedError, StrictModel
from connectors.opcua.config import PkiConfig
from gateway.audit import AuditConfig
from gateway.auth.config import ApiAuthConfig, ApiLimitsConfig, ApiTlsConfig, CorsConfig
from gateway.config.assets import AssetConfig
from gateway.config.connectors import validate_assets, validate_sink
from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.overrides import apply
from gateway.config.paths import in_data_dir, relative_to
from gateway.detect.config import DetectionConfig
from gateway.detect.config import check as check_detection
from gateway.kpi.config import check_points
from gateway.ops.ledger_config import LedgerConfig
from gateway.ui.config import UiConfig

if TYPE_CHECKING:
    from connectors.registry import SinkRole

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
    ui: UiConfig = Field(UiConfig(), description="the operator's dashboard at / (gateway/ui)")

    @model_validator(mode="after")
    def _oidc_needs_jwt(self) -> ApiConfig:
        if self.ui.oidc is not None and self.auth.jwt is None:
            raise KeyedError("ui.oidc", "single sign-on checks the IdP's tokens like the API does: configure "
                                        "api.auth.jwt (issuer, audience, JWKS, roles) too")
        return self


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


class ForwarderConfig(StrictModel):
    """A northbound target fed from the historian by its own cursor (store and forward)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="names the persisted cursor: keep it stable")
    start_from: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new cursor starts: everything in the historian, or only new samples")
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    historical_after_s: float = Field(10.0, gt=0, description="samples sent later than this are flagged replays")
    worker_process: bool = Field(
        True, description="read and encode batches in a worker process when the sink can (InfluxDB): the gateway's "
                          "interpreter then only posts them")
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
    ledger: LedgerConfig = LedgerConfig()
    assets: list[SerializeAsAny[AssetConfig]] = Field(min_length=1)

    _origin: ConfigOrigin | None = PrivateAttr(None)

    @field_validator("assets", mode="before")
    @classmethod
    def _by_connector(cls, v: Any) -> Any:
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


def resolve(cfg: GatewayConfig, config_dir: Path | None, file: str = "<config>") -> GatewayConfig:
    """`cfg` (as validated) with every path resolved by the rules in `gateway/config/paths.py`.

    ConfigError for a bad calendar file."""
    def here(p: Path) -> Path:
        return p if config_dir is None or p.is_absolute() else config_dir / p

    historian = here(cfg.historian.path)
    beside = in_data_dir(historian.parent)
    pki = here(cfg.pki.path) if "path" in cfg.pki.model_fields_set else beside.pki
    audit = here(cfg.audit.path) if "path" in cfg.audit.model_fields_set else beside.audit
    auth = cfg.api.auth
    if auth.api_keys_file is None:
        auth = auth.model_copy(update={"api_keys_file": beside.keys_file})
    state = cfg.detection.state_path
    state = beside.detect_state if state is None else state if state.is_absolute() else historian.parent / state
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
