"""Settings of one OPC UA source and the OPC UA fields of its points, owned by the connector.

The gateway's configuration embeds `OpcUaSourceConfig` as an asset's `source` and
`OpcUaPointConfig`'s fields in each of its points (registered in `descriptor.py`); the connector
receives them as `OpcUaPointSpec`s and needs nothing else. Pydantic validates them so errors
carry key paths. Importing this module costs pydantic only (no asyncua).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.config_base import ConfigFile, ConnectorConfig, PointFields, StrictModel

SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
SecuredPolicy = Literal["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
# one Literal each (not a union with Literal["auto"]), so a typo gives one error listing every choice
PolicyChoice = Literal["auto", "None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
ModeChoice = Literal["auto", "None", "Sign", "SignAndEncrypt"]
SECURED_POLICIES: tuple[SecuredPolicy, ...] = ("Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")


class SecurityConfig(StrictModel):
    """Secure channel of one source.

    There is no default: a config must say what it wants, and `None` is
    accepted only when written out (and logged as a warning). `auto` (the
    string for the whole key, or as policy and/or mode) picks the best the
    server offers among the secured ones, never None. Certificate and key
    default to the gateway's own PKI certificate.
    """

    policy: PolicyChoice
    mode: ModeChoice
    certificate: ConfigFile | None = Field(None, description="client application certificate (DER/PEM file); "
                                           "default: the gateway's PKI certificate")
    private_key: ConfigFile | None = Field(None, description="its private key (PEM file)")
    server_certificate: ConfigFile | None = Field(None, description="pin the server to this certificate file "
                                                  "(instead of the PKI trust list)")
    trust_on_first_use: bool = Field(False, description="trust a server certificate never seen before "
                                     "(commissioning only; logged as a warning)")

    @model_validator(mode="before")
    @classmethod
    def _auto(cls, v: Any) -> Any:
        if v == "auto":
            return {"policy": "auto", "mode": "auto"}
        if isinstance(v, str):
            raise ValueError(f"must be 'auto' or a mapping with 'policy' and 'mode', got {v!r}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SecurityConfig:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("'policy' and 'mode' must both be None, or both be set "
                             "(e.g. Basic256Sha256 + SignAndEncrypt, or auto)")
        if (self.certificate is None) != (self.private_key is None):
            raise ValueError("'certificate' and 'private_key' go together (leave both out to use the gateway's PKI)")
        if self.policy == "None" and (self.certificate or self.server_certificate or self.trust_on_first_use):
            raise ValueError("'certificate', 'server_certificate' and 'trust_on_first_use' need a secured policy")
        return self

    @property
    def secured(self) -> bool:
        return self.policy != "None"


UserType = Literal["anonymous", "username", "certificate"]
_USER_KEYS: dict[str, tuple[str, ...]] = {
    "anonymous": (), "username": ("username", "password"), "certificate": ("certificate", "private_key"),
}


class UserIdentityConfig(StrictModel):
    """Who the session acts as: anonymous, user name + password, or an X.509 user certificate.

    `{username, password}` without `type` is the original form and still means type username.
    """

    type: UserType = "anonymous"
    username: str | None = None
    password: SecretStr | None = None
    certificate: ConfigFile | None = Field(None, description="user certificate (DER/PEM file)")
    private_key: ConfigFile | None = Field(None, description="its private key (PEM file)")

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, v: Any) -> Any:
        if isinstance(v, dict) and v.get("type") is None:
            inferred = "username" if v.get("username") is not None else "certificate" if v.get("certificate") else None
            return {**v, "type": inferred} if inferred else {k: x for k, x in v.items() if k != "type"}
        return v

    @model_validator(mode="after")
    def _complete(self) -> UserIdentityConfig:
        needed = _USER_KEYS[self.type]
        missing = [k for k in needed if getattr(self, k) is None]
        if missing:
            raise ValueError(f"type {self.type} needs {' and '.join(repr(k) for k in missing)}")
        extra = [k for k in ("username", "password", "certificate", "private_key")
                 if k not in needed and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{', '.join(repr(k) for k in extra)} not used with type {self.type}")
        return self


class ReconnectConfig(StrictModel):
    initial_delay_s: float = Field(0.5, gt=0)
    max_delay_s: float = Field(30.0, gt=0)
    jitter: float = Field(0.2, ge=0, le=1, description="+/- fraction of random jitter on every delay")


class OpcUaSourceConfig(ConnectorConfig):
    type: Literal["opcua"] = "opcua"
    endpoint: str
    namespace: str | None = Field(
        None, description="default namespace URI for 's=...'/'i=...' node ids and browse path segments"
    )
    security: SecurityConfig
    user: UserIdentityConfig | None = None
    mode: Literal["subscription", "poll"] = "subscription"
    publishing_interval_ms: float = Field(500.0, gt=0, description="subscription publishing / poll interval")
    sampling_interval_ms: float = Field(250.0, ge=0, description="default per-point sampling interval")
    queue_size: int = Field(10, ge=1, le=100000, description="default per-point server-side queue size")
    keepalive_s: float = Field(5.0, gt=0, description="subscription keep-alive; a silent subscription is rebuilt")
    max_items_per_subscription: int = Field(5000, ge=1)
    request_timeout_s: float = Field(10.0, gt=0)
    session_timeout_s: float = Field(60.0, gt=0)
    health_check_interval_s: float = Field(2.0, gt=0, description="session probe interval")
    node_retry_interval_s: float = Field(30.0, gt=0, description="retry period for points whose node is missing")
    node_check_interval_s: float = Field(
        30.0, gt=0, description="how often quiet subscribed nodes are checked for existence"
    )
    reconnect: ReconnectConfig = ReconnectConfig()

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not v.startswith("opc.tcp://"):
            raise ValueError("must start with opc.tcp://")
        return v


class DeadbandConfig(StrictModel):
    type: Literal["absolute", "percent"]
    value: float = Field(ge=0)


ONE_ADDRESS = "give exactly one of 'node' or 'browse_path'"


class OpcUaPointConfig(PointFields):
    """The OPC UA fields of a point: its node (by id or browse path) and how it is monitored."""

    node: str | None = Field(None, description="OPC UA node id, e.g. 'ns=2;s=Spindle.Speed' or 's=Spindle.Speed'")
    browse_path: str | None = Field(None, description="OPC UA browse path, e.g. 'Objects/CNC01/Spindle/Speed'")
    sampling_interval_ms: float | None = Field(None, ge=0, description="default: the source's")
    queue_size: int | None = Field(None, ge=1, description="default: the source's")
    deadband: DeadbandConfig | None = None

    @model_validator(mode="after")
    def _one_address(self) -> OpcUaPointConfig:
        # checked per point (not per asset), so it is reported even when a sibling point has errors too
        if (self.node is None) == (self.browse_path is None):
            raise ValueError(ONE_ADDRESS)
        return self

    def address(self) -> str | None:
        return self.node or self.browse_path

    def check_type(self, value_type: str, numeric: bool) -> None:
        if self.deadband is not None and not numeric:
            raise ValueError(f"a deadband needs a numeric type, not {value_type}")



class PkiConfig(StrictModel):
    """The gateway's OPC UA PKI folder and own certificate (used by `connectors.opcua.pki.Pki`)."""

    path: Path = Field(Path("data/pki"), description="PKI folder: own/, trusted/, rejected/ "
                       "(not set: pki/ beside the historian, with the gateway's other data)")
    application_uri: str | None = Field(None, description="default: urn:<hostname>:aas-edge-gateway")
    key_size: int = Field(2048, ge=2048, le=4096, description="RSA key size of the own certificate")
    validity_days: int = Field(730, ge=1, description="validity of a generated own certificate")
    renew_before_days: int = Field(30, ge=0, description="renew the own certificate when it expires this soon")


@dataclass(frozen=True, slots=True)
class OpcUaPointSpec:
    """What the connector needs to know of one point."""

    point_id: str
    node: str | None = None  # "ns=2;s=X", "nsu=urn:..;s=X", or "s=X"/"i=5" in the default namespace
    browse_path: str | None = None  # "Objects/CNC01/Spindle/Speed", segments may be "ns:Name" / "nsu=..:Name"
    sampling_interval_ms: float | None = None
    queue_size: int | None = None
    deadband: DeadbandConfig | None = None
    # the point's type as the gateway's config names it (canonical: xs:double, LocalizedText, Structure[],
    # Variant ...); it tells the connector which points need the server's structure definitions
    type: str | None = None

    def address(self) -> str:
        return self.node if self.node is not None else f"browse path {self.browse_path}"
