"""MQTT connector (paho-mqtt): a northbound publisher and a southbound source for smart sensors.

`MqttPublisher` is a forwarder sink (unified-namespace topics, JSON payloads, birth/last will);
`MqttSource` turns JSON sensor messages into samples. The topic scheme is documented in
`connectors.mqtt.topics`, the payload schema in `connectors.mqtt.payload`.

The package's names are loaded on first use: the config models are read by every CLI command,
paho-mqtt only by a gateway that speaks MQTT.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.mqtt.config import BrokerConfig, MqttPointSpec, MqttPublisherConfig, MqttSourceConfig, TlsConfig
    from connectors.mqtt.publisher import MqttPublisher
    from connectors.mqtt.source import MqttSource

__all__ = ["BrokerConfig", "MqttPointSpec", "MqttPublisher", "MqttPublisherConfig", "MqttSource",
           "MqttSourceConfig", "TlsConfig"]

_HOME = {**dict.fromkeys(("BrokerConfig", "MqttPointSpec", "MqttPublisherConfig", "MqttSourceConfig", "TlsConfig"),
                         "connectors.mqtt.config"),
         "MqttPublisher": "connectors.mqtt.publisher", "MqttSource": "connectors.mqtt.source"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'connectors.mqtt' has no attribute {name!r}")
