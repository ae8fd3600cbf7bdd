"""MQTT connector (paho-mqtt): a northbound publisher and a southbound source for smart sensors.

`MqttPublisher` is a forwarder sink (unified-namespace topics, JSON payloads, birth/last will);
`MqttSource` turns JSON sensor messages into samples. The topic scheme is documented in
`connectors.mqtt.topics`, the payload schema in `connectors.mqtt.payload`; `descriptor` registers
both roles (`connectors.registry`). Importing the package is cheap: paho is loaded with the
publisher or the source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.mqtt.config import BrokerConfig, MqttPointSpec, MqttPublisherConfig, MqttSourceConfig, TlsConfig
    from connectors.mqtt.publisher import MqttPublisher
    from connectors.mqtt.source import MqttSource

__all__ = ["BrokerConfig", "MqttPointSpec", "MqttPublisher", "MqttPublisherConfig", "MqttSource",
           "MqttSourceConfig", "TlsConfig"]


def __getattr__(name: str) -> Any:  # lazy, so that the config models come without paho
    if name == "MqttPublisher":
        from connectors.mqtt.publisher import MqttPublisher

        return MqttPublisher
    if name == "MqttSource":
        from connectors.mqtt.source import MqttSource

        return MqttSource
    if name in __all__:
        from connectors.mqtt import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
