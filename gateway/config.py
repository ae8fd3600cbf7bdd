"""The gateway's one YAML configuration file, validated by pydantic.

Every error names the file, the key path (``assets[2].points[5].node``) and
what is wrong, so an integrator can fix a config without reading code.
Secrets are written as ``${ENV_VAR}`` or ``${file:/run/secrets/name}`` and
are resolved at load time; they are held as SecretStr and never logged.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from aas_models.datatypes import NUMERIC_TYPES, canonical_value_type, parse_point_type
from connectors.influx.config import InfluxConfig
from connectors.mqtt.config import MqttPublisherConfig, MqttSourceConfig
from connectors.opcua.config import DeadbandConfig, OpcUaSourceConfig
from connectors.opcua.pki import PkiConfig
from gateway.audit import AuditConfig
from gateway.auth.config import ApiAuthConfig, ApiLimitsConfig, ApiTlsConfig, CorsConfig
from gateway.config_yaml import gc_paused, load_yaml
from gateway.detect.config import DetectionConfig
from gateway.detect.config import check as check_detection
from gateway.kpi.config import KpiConfig, check_points
from gateway.ops.ledger_config import LedgerConfig

_ID_SHORT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")

# a config names a handful of types for thousands of points: resolve each name once
_canonical_type = functools.lru_cache(maxsize=1024)(canonical_value_type)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_id_short(v: str) -> str:
    if not _ID_SHORT.match(v) or len(v) > 128:
        raise ValueError(f"{v!r} is not a valid idShort (letter first, then letters, digits or '_')")
    return v


class GatewayIdentity(_Strict):
    name: str = "aas-edge-gateway"
    id: str = Field("urn:aas-gateway:edge", description="IRI identifying this gateway")


class LoggingConfig(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class ApiConfig(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    auth: ApiAuthConfig = ApiAuthConfig()
    tls: ApiTlsConfig | None = Field(None, description="serve HTTPS with this certificate and key")
    cors: CorsConfig = CorsConfig()
    limits: ApiLimitsConfig = ApiLimitsConfig()
    http: Literal["httptools", "h11"] = Field(
        "httptools", description="uvicorn's HTTP parser: httptools (fast, the default) or h11 (pure Python)")


class RetentionConfig(_Strict):
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
            raise _KeyedError("max_disk_mb", "must be at least max_size_mb (it is the hard cap above it)")
        return self


class HistorianSettings(_Strict):
    """The embedded SQLite historian."""

    path: Path = Path("data/historian.sqlite")
    synchronous: Literal["normal", "full"] = Field(
        "full", description="'full' survives power loss, 'normal' survives process crashes"
    )
    commit_interval_ms: float = Field(200.0, ge=0, description="max time a sample waits to be committed")
    max_batch: int = Field(20000, ge=1, description="max rows per transaction")
    max_pending: int = Field(500000, ge=1000, description="queued rows before sources are slowed down")
    retention: RetentionConfig = RetentionConfig()


class NameplateAddress(_Strict):
    street: str | None = None
    zipcode: str | None = None
    city_town: str | None = None
    national_code: str | None = Field(None, description="ISO 3166-1 country code, e.g. DE, KR")


class NameplateConfig(_Strict):
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


_ONE_ADDRESS = "give exactly one of 'node' or 'browse_path' (OPC UA) or 'pointer' (MQTT)"


class PointConfig(_Strict):
    """One data point: where it comes from and where it lands in the AAS."""

    node: str | None = Field(None, description="OPC UA node id, e.g. 'ns=2;s=Spindle.Speed' or 's=Spindle.Speed'")
    browse_path: str | None = Field(None, description="OPC UA browse path, e.g. 'Objects/CNC01/Spindle/Speed'")
    topic: str | None = Field(None, description="MQTT topic filter (default: the source's topic)")
    pointer: str | None = Field(None, description="MQTT: JSON pointer to the value in the payload, e.g. /temp")
    submodel: str = Field("OperationalData", description="idShort of the target submodel")
    path: str = Field(description="idShortPath inside the submodel, e.g. 'Spindle.Speed'")
    type: str = Field(description="AAS valueType (xs:double ...) or OPC UA built-in type name (Double, "
                      "LocalizedText, Structure ...), [] per array dimension (Double[])")
    unit: str | None = None
    semantic_id: str | None = None
    description: str | None = None
    sampling_interval_ms: float | None = Field(None, ge=0)
    queue_size: int | None = Field(None, ge=1)
    deadband: DeadbandConfig | None = None
    writable: bool = False

    @field_validator("submodel")
    @classmethod
    def _submodel(cls, v: str) -> str:
        return _check_id_short(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if _PATH.fullmatch(v):
            return v
        segments = v.split(".")
        for seg in segments:
            if not _PATH_SEGMENT.match(seg):
                raise ValueError(f"{v!r} is not an idShortPath: segment {seg!r} is not a valid idShort")
        return v

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return _canonical_type(v)

    @model_validator(mode="after")
    def _address_and_deadband(self) -> PointConfig:
        # checked here, not only per asset, so it is reported even when a sibling point has errors too
        if (self.node is not None) + (self.browse_path is not None) + (self.pointer is not None) != 1:
            raise ValueError(_ONE_ADDRESS)
        if self.deadband is not None and self.type not in NUMERIC_TYPES:
            raise ValueError(f"a deadband needs a numeric type, not {self.type}")
        if self.writable and not parse_point_type(self.type).is_scalar_property:
            raise _KeyedError("writable", f"{self.type} values cannot be written to the machine; only single "
                              "values (numbers, booleans, strings, date-times, ByteString, Guid, NodeId, ...) can")
        return self

    def source_address(self) -> str | None:
        return self.node or self.browse_path or (f"{self.topic or ''}#{self.pointer}" if self.pointer else None)


def _source_type(v: Any) -> str:
    # `type` may be left out for OPC UA, the original (and most common) source
    return str(v.get("type", "opcua")) if isinstance(v, dict) else str(getattr(v, "type", "opcua"))


SourceConfig = Annotated[
    Annotated[OpcUaSourceConfig, Tag("opcua")] | Annotated[MqttSourceConfig, Tag("mqtt")],
    Discriminator(_source_type),
]


class AssetConfig(_Strict):
    id_short: str
    id: str = Field(description="AAS identifier (IRI), stable for the life of the asset")
    global_asset_id: str
    description: str | None = None
    nameplate: NameplateConfig | None = None
    source: SourceConfig
    points: list[PointConfig] = Field(min_length=1)
    kpi: KpiConfig | None = Field(None, description="ISO 22400 KPIs of this asset (gateway/kpi)")

    @field_validator("id_short")
    @classmethod
    def _id_short(cls, v: str) -> str:
        return _check_id_short(v)

    @model_validator(mode="after")
    def _addresses(self) -> AssetConfig:
        """Each point is addressed the way its asset's source understands."""
        for i, p in enumerate(self.points):
            if self.source.type == "opcua":
                if p.topic is not None or p.pointer is not None:
                    raise _KeyedError(f"points[{i}]", "'topic' and 'pointer' are for MQTT sources")
            else:
                if p.pointer is None:
                    raise _KeyedError(f"points[{i}].pointer", "an MQTT point needs a JSON pointer, e.g. /temp")
                if p.topic is None and self.source.topic is None:
                    raise _KeyedError(f"points[{i}].topic", "no topic here and no default topic on the source")
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
                raise _KeyedError(f"points[{i}].path", f"{p.submodel}/{p.path} is already used by points[{seen[key]}]")
            if key in parents:  # this path is the collection of an earlier point
                j = parents[key]
                raise _KeyedError(f"points[{i}].path", f"{p.path} collides with points[{j}] ({self.points[j].path})")
            prefixes = []
            dot = p.path.find(".")
            while dot != -1:
                prefixes.append((p.submodel, p.path[:dot]))
                dot = p.path.find(".", dot + 1)
            for pk in prefixes:  # an earlier point is a Property where this one needs a collection
                if pk in seen:
                    raise _KeyedError(f"points[{i}].path", f"{p.path} collides with points[{seen[pk]}] ({pk[1]})")
            seen[key] = i
            for pk in prefixes:
                parents.setdefault(pk, i)
        return self


class ForwarderConfig(_Strict):
    """A northbound target fed from the historian by its own cursor (store and forward)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="names the persisted cursor: keep it stable")
    start_from: Literal["earliest", "latest"] = Field(
        "earliest", description="where a new cursor starts: everything in the historian, or only new samples")
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    historical_after_s: float = Field(10.0, gt=0, description="samples sent later than this are flagged replays")
    sink: Annotated[InfluxConfig | MqttPublisherConfig, Field(discriminator="type")]

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == "historian":  # dead_letters.forwarder = 'historian' holds what the historian itself refused
            raise ValueError("'historian' is reserved (it names the historian's own dead letters); pick another name")
        return v


class GatewayConfig(_Strict):
    gateway: GatewayIdentity = GatewayIdentity()
    logging: LoggingConfig = LoggingConfig()
    api: ApiConfig = ApiConfig()
    historian: HistorianSettings = HistorianSettings()
    pki: PkiConfig = PkiConfig()
    audit: AuditConfig = AuditConfig()
    forwarders: list[ForwarderConfig] = []
    detection: DetectionConfig = DetectionConfig()
    ledger: LedgerConfig = LedgerConfig()
    assets: list[AssetConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _detection_references(self) -> GatewayConfig:
        issues = check_detection(self)
        if issues:
            raise _KeyedError(*issues[0])  # one at a time, like the other cross-checks
        return self

    @model_validator(mode="after")
    def _unique_forwarders(self) -> GatewayConfig:
        seen: dict[str, int] = {}
        for i, f in enumerate(self.forwarders):
            if f.name in seen:
                raise _KeyedError(f"forwarders[{i}].name", f"{f.name!r} is already used by forwarders[{seen[f.name]}]")
            seen[f.name] = i
        return self

    @model_validator(mode="after")
    def _unique_assets(self) -> GatewayConfig:
        for attr in ("id_short", "id"):
            seen: dict[str, int] = {}
            for i, a in enumerate(self.assets):
                v = getattr(a, attr)
                if v in seen:
                    raise _KeyedError(f"assets[{i}].{attr}", f"{v!r} is already used by assets[{seen[v]}]")
                seen[v] = i
        return self

    @model_validator(mode="after")
    def _kpi_points(self) -> GatewayConfig:
        for key, message in check_points(self):
            raise _KeyedError(key, message)
        return self

    def point_ids(self) -> Iterable[str]:
        for a in self.assets:
            for p in a.points:
                yield point_id(a.id_short, p.submodel, p.path)


def source_endpoint(src: OpcUaSourceConfig | MqttSourceConfig) -> str:
    """Where an asset's data comes from, for status displays (never with credentials)."""
    if isinstance(src, MqttSourceConfig):
        scheme = "mqtts" if src.broker.tls else "mqtt"
        return f"{scheme}://{src.broker.host}:{src.broker.port}/{src.topic or ''}"
    return src.endpoint


def source_summary(src: OpcUaSourceConfig | MqttSourceConfig) -> str:
    if isinstance(src, MqttSourceConfig):
        return f"{source_endpoint(src)}  mqtt qos={src.qos} tls={'on' if src.broker.tls else 'off'}"
    return f"{src.endpoint}  mode={src.mode} security={src.security.policy}/{src.security.mode}"


def point_id(asset: str, submodel: str, path: str) -> str:
    """The gateway-wide id of a point, carried by every Sample."""
    return f"{asset}/{submodel}/{path}"


# --- loading and error reporting -------------------------------------------------


class _KeyedError(ValueError):
    """A validator error that knows the key path (relative to the model) it concerns."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


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
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_SUBST = re.compile(r"\$\{([^}]*)\}")


def _substitute(node: Any, loc: tuple[Any, ...], issues: list[ConfigIssue], env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        # values without a ${...} (nearly all of them) are kept without a call each: configs have 100,000s
        return {k: v if _plain(v) else _substitute(v, (*loc, k), issues, env) for k, v in node.items()}
    if isinstance(node, list):
        return [v if _plain(v) else _substitute(v, (*loc, i), issues, env) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def repl(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("file:"):
            path = expr[5:]
            try:
                return Path(path).read_text().strip()
            except OSError as e:
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
        issues.append(ConfigIssue(format_loc(loc), f"environment variable {name} is not set"))
        return ""

    return _SUBST.sub(repl, node)


def _plain(v: Any) -> bool:
    """A leaf with nothing to substitute."""
    return (type(v) is str and "${" not in v) or v is None or type(v) in (int, float, bool)


_UNION_KEYS = {"source", "sink"}
_UNION_TAGS = {"opcua", "mqtt", "influxdb"}


def _pydantic_issues(err: ValidationError) -> list[ConfigIssue]:
    issues = []
    for e in err.errors(include_url=False):
        loc: list[Any] = []
        for part in e["loc"]:
            if isinstance(part, str) and part.startswith("function-"):
                continue
            if loc and loc[-1] in _UNION_KEYS and part in _UNION_TAGS:
                continue  # pydantic names the union member; the user wrote no such key
            loc.append(part)
        key = format_loc(loc)
        ctx_err = (e.get("ctx") or {}).get("error")
        if isinstance(ctx_err, ValueError) and isinstance(getattr(ctx_err, "key", None), str):  # _KeyedError & co
            key = f"{key}.{ctx_err.key}" if key else ctx_err.key  # type: ignore[attr-defined]
            msg = ctx_err.message  # type: ignore[attr-defined]
        else:
            msg = e["msg"]
            msg = msg.removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown key (typo?)"
            elif e["type"] == "literal_error" and e.get("input") is not None:
                msg = f"{msg}, got {e['input']!r}"
        issues.append(ConfigIssue(key, msg))
    return issues


def parse_config(data: Any, file: str = "<config>", env: dict[str, str] | None = None) -> GatewayConfig:
    """Validate an already-parsed YAML document."""
    if not isinstance(data, dict):
        raise ConfigError(file, [ConfigIssue("", "the file must hold a mapping (key: value) at the top level")])
    issues: list[ConfigIssue] = []
    data = _substitute(data, (), issues, dict(os.environ) if env is None else env)
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as e:
        issues.extend(_pydantic_issues(e))
        raise ConfigError(file, issues) from None
    if issues:
        raise ConfigError(file, issues)
    return cfg


def load_config(path: str | Path, env: dict[str, str] | None = None) -> GatewayConfig:
    """Read, substitute and validate a config file; raises ConfigError listing every problem."""
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
        cfg = parse_config(data, file, env)
    # relative historian paths are relative to the config file, not the cwd
    if not cfg.historian.path.is_absolute():
        cfg.historian.path = (Path(path).resolve().parent / cfg.historian.path)
    # without an audit.path the audit log lives beside the historian: gateway and CLIs find the same file
    cfg.audit = cfg.audit.resolved(Path(path).resolve().parent, cfg.historian.path)
    # `run -c` and `pki -c` must find the same PKI from any cwd: relative to the config, or beside the historian
    if "path" not in cfg.pki.model_fields_set:
        cfg.pki = cfg.pki.beside(cfg.historian.path)
    elif not cfg.pki.path.is_absolute():
        cfg.pki.path = Path(path).resolve().parent / cfg.pki.path
    cfg.api.auth.resolve_paths(Path(path).resolve().parent)  # key file, JWKS file, TLS files alike
    for i, a in enumerate(cfg.assets):  # an IDTA 02067 calendar file named in a `kpi` block
        if a.kpi is not None:
            problem = a.kpi.resolve_paths(Path(path).resolve().parent)
            if problem:
                raise ConfigError(file, [ConfigIssue(f"assets[{i}].kpi.{problem[0]}", problem[1])])
    if cfg.api.tls is not None:
        cfg.api.tls.resolve_paths(Path(path).resolve().parent)
    return cfg
