"""Settings of the MQTT publisher (northbound) and the MQTT sensor source (southbound).

Owned by the connector, like `connectors.opcua.config`: the gateway's YAML embeds
`MqttPublisherConfig` as a forwarder's sink, `MqttSourceConfig` as an asset's source and
`MqttPointConfig`'s fields in each of its points (registered in `descriptor.py`), and the
connector needs nothing else. Both share `BrokerConfig`, so TLS, credentials and reconnect
behave the same in both directions. Importing this module costs pydantic only (no paho).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from connectors.config_base import ConfigFile, ConnectorConfig, KeyedError, PointFields, StrictModel
from connectors.mqtt.jsonpointer import parse_pointer
from connectors.mqtt.topics import validate_filter, validate_topic

QoS = Literal[0, 1, 2]


def _pointer(v: str) -> str:
    parse_pointer(v)
    return v


TopicFilter = Annotated[str, AfterValidator(validate_filter)]  # a valid MQTT topic filter (wildcards allowed)
JsonPointer = Annotated[str, AfterValidator(_pointer)]  # a valid RFC 6901 JSON pointer


class TlsConfig(StrictModel):
    """TLS to the broker. The server certificate is always verified unless `verify: false` is written out."""

    ca_file: ConfigFile | None = Field(None, description="CA bundle (PEM) to verify the broker; None = system store")
    certfile: ConfigFile | None = Field(None, description="client certificate (PEM) for mutual TLS")
    keyfile: ConfigFile | None = Field(None, description="client private key (PEM) for mutual TLS")
    verify: bool = Field(True, description="verify the broker's certificate and host name")

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("'certfile' and 'keyfile' go together (mutual TLS needs both)")
        return self


class ReconnectConfig(StrictModel):
    initial_delay_s: float = Field(0.5, gt=0)
    max_delay_s: float = Field(30.0, gt=0)
    jitter: float = Field(0.2, ge=0, le=1, description="+/- fraction of random jitter on the delays")

    @model_validator(mode="after")
    def _order(self) -> ReconnectConfig:
        if self.max_delay_s < self.initial_delay_s:
            raise ValueError("max_delay_s must be >= initial_delay_s")
        return self


class BrokerConfig(StrictModel):
    host: str
    port: int | None = Field(None, ge=1, le=65535, description="default 1883, or 8883 with TLS")
    client_id: str | None = Field(None, description="default: aasgw-{hostname}-{connector name}")
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(30, ge=5, le=65535)
    connect_timeout_s: float = Field(5.0, gt=0)
    protocol: Literal["5", "3.1.1"] = "5"
    tls: TlsConfig | None = None
    clean_start: bool = Field(True, description="False keeps the broker-side session (QoS 1/2 state) across reconnects")
    reconnect: ReconnectConfig = ReconnectConfig()

    @model_validator(mode="after")
    def _credentials(self) -> BrokerConfig:
        if self.password is not None and self.username is None:
            raise ValueError("a 'password' needs a 'username'")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883

    @property
    def url(self) -> str:
        """The broker as shown in logs and health (never with credentials)."""
        scheme = "mqtts" if self.tls is not None else "mqtt"
        return f"{scheme}://{self.host}:{self.effective_port}"

    def client_id_for(self, name: str) -> str:
        return self.client_id or f"aasgw-{socket.gethostname()}-{name}"


class MqttPublisherConfig(ConnectorConfig):
    type: Literal["mqtt"] = "mqtt"
    broker: BrokerConfig
    topic_prefix: str = Field("aas", description="first level(s) of every topic, e.g. 'plant1/aas'")
    qos: QoS = 1
    retain: bool = Field(False, description="retain value messages (the last value per point stays on the broker)")
    payload: Literal["per_point", "per_asset"] = "per_point"
    max_inflight: int = Field(1000, ge=1, le=65535, description="QoS 1/2 messages awaiting an ack at once")
    batch_size: int = Field(500, ge=1, description="most samples in one per-asset message")
    status_topic: str = Field("$status/{gateway_id}", description="gateway status topic, under the prefix")
    ack_timeout_s: float = Field(30.0, gt=0, description="a batch not acknowledged in time is retried")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        validate_topic(v)
        if v.startswith("$"):
            raise ValueError("must not start with '$' (reserved for broker topics such as $SYS)")
        return v

    @field_validator("status_topic")
    @classmethod
    def _status(cls, v: str) -> str:
        validate_topic(v.replace("{gateway_id}", "x"))
        return v


class MqttSourceConfig(ConnectorConfig):
    type: Literal["mqtt"] = "mqtt"
    broker: BrokerConfig
    topic: TopicFilter | None = Field(None, description="default topic filter for points that name none")
    timestamp_pointer: JsonPointer | None = Field(None, description="JSON pointer to the sample time in the "
                                                  "payload, e.g. /ts")
    timestamp_format: Literal["epoch_ms", "epoch_s", "iso8601"] = "epoch_ms"
    qos: QoS = 1
    max_pending_messages: int = Field(100_000, ge=1, description="received but not yet emitted; oldest dropped beyond")


class MqttPointConfig(PointFields):
    """The MQTT fields of a point: which messages carry it and where in their JSON payload."""

    topic: TopicFilter | None = Field(None, description="MQTT topic filter (default: the source's topic)")
    pointer: JsonPointer | None = Field(None, description="JSON pointer to the value in the payload, e.g. /temp "
                                "('' = the whole payload)")

    @model_validator(mode="after")
    def _needs_pointer(self) -> MqttPointConfig:
        if self.pointer is None:
            raise KeyedError("pointer", "an MQTT point needs a JSON pointer, e.g. /temp")
        return self

    def address(self) -> str | None:
        return f"{self.topic or ''}#{self.pointer}"


@dataclass(frozen=True, slots=True)
class MqttPointSpec:
    """One point fed by MQTT: messages on `topic` (a filter; None = the source's default topic),
    value at the RFC 6901 JSON pointer `pointer` (e.g. `/temperature`, `/values/0`, `` = whole payload)."""

    point_id: str
    topic: str | None
    pointer: str
    structured: bool = False  # the point's type holds arrays or objects (Double[], Structure ...): JSON passes

    def __post_init__(self) -> None:
        parse_pointer(self.pointer)
        if self.topic is not None:
            validate_filter(self.topic)
