"""Settings of one OPC UA source, owned by the connector.

The gateway's configuration embeds `OpcUaSourceConfig` as an asset's
`source`; the connector receives it together with `OpcUaPointSpec`s and
needs nothing else. Pydantic validates it so errors carry key paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecurityConfig(_Strict):
    """Secure channel and user identity.

    There is no default: a config must say what it wants, and `None` is
    accepted only when written out (and logged as a warning).
    """

    policy: SecurityPolicy
    mode: SecurityMode
    certificate: str | None = Field(None, description="client application certificate (DER/PEM file)")
    private_key: str | None = Field(None, description="client private key (PEM file)")
    server_certificate: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SecurityConfig:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("policy and mode must both be None, or both be set (e.g. Basic256Sha256 + SignAndEncrypt)")
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError("a secured policy needs 'certificate' and 'private_key' files")
        return self


class UserIdentityConfig(_Strict):
    username: str
    password: SecretStr


class ReconnectConfig(_Strict):
    initial_delay_s: float = Field(0.5, gt=0)
    max_delay_s: float = Field(30.0, gt=0)
    jitter: float = Field(0.2, ge=0, le=1, description="+/- fraction of random jitter on every delay")


class OpcUaSourceConfig(_Strict):
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


class DeadbandConfig(_Strict):
    type: Literal["absolute", "percent"]
    value: float = Field(ge=0)


@dataclass(frozen=True, slots=True)
class OpcUaPointSpec:
    """What the connector needs to know of one point."""

    point_id: str
    node: str | None = None  # "ns=2;s=X", "nsu=urn:..;s=X", or "s=X"/"i=5" in the default namespace
    browse_path: str | None = None  # "Objects/CNC01/Spindle/Speed", segments may be "ns:Name" / "nsu=..:Name"
    sampling_interval_ms: float | None = None
    queue_size: int | None = None
    deadband: DeadbandConfig | None = None

    def address(self) -> str:
        return self.node if self.node is not None else f"browse path {self.browse_path}"
