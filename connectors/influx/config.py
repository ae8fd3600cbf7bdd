"""Settings of the InfluxDB northbound sink, owned by the connector.

The gateway's configuration embeds `InfluxConfig` as a forwarder target and
resolves `${ENV}` / `${file:...}` secrets before validation, so the connector
sees a plain value it must never log. Pydantic validates it so errors carry
key paths.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.config_base import ConfigFile, ConnectorConfig

TagName = Literal["asset", "aas_id", "submodel", "path", "unit", "semantic_id"]
Precision = Literal["s", "ms", "us", "ns"]

DEFAULT_TAGS: tuple[TagName, ...] = ("asset", "submodel", "path", "unit")


class InfluxConfig(ConnectorConfig):
    type: Literal["influxdb"]
    url: str = Field(description="InfluxDB (or other /api/v2/write peer) base URL, e.g. http://influx:8086")
    org: str
    bucket: str
    token: SecretStr | None = None
    measurement: str = Field("aas", min_length=1)
    precision: Precision = "ms"
    tags: list[TagName] = Field(
        default_factory=lambda: list(DEFAULT_TAGS),
        description="point attributes written as tags, in this order",
    )
    batch_size: int = Field(5000, ge=1, le=1_000_000, description="lines per HTTP write request")
    timeout_s: float = Field(10.0, gt=0)
    verify_ssl: bool = True
    ca_file: ConfigFile | None = Field(None, description="CA bundle (PEM) to verify an https:// server")
    gzip: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("measurement")
    @classmethod
    def _measurement(cls, v: str) -> str:
        if v.startswith("#"):
            raise ValueError("must not start with '#' (a line-protocol comment)")
        return v

    @field_validator("tags")
    @classmethod
    def _unique(cls, v: list[TagName]) -> list[TagName]:
        if len(set(v)) != len(v):
            raise ValueError("tags must not repeat")
        return v
