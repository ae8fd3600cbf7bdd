"""MQTT connector (paho-mqtt): a northbound publisher and a southbound source for smart sensors.

`MqttPublisher` is a forwarder sink (unified-namespace topics, JSON payloads, birth/last will);
`MqttSource` turns JSON sensor messages into samples. The topic scheme is documented in
`connectors.mqtt.topics`, the payload schema in `connectors.mqtt.payload`.
"""

from connectors.mqtt.config import BrokerConfig, MqttPointSpec, MqttPublisherConfig, MqttSourceConfig, TlsConfig
from connectors.mqtt.publisher import MqttPublisher
from connectors.mqtt.source import MqttSource

__all__ = ["BrokerConfig", "MqttPointSpec", "MqttPublisher", "MqttPublisherConfig", "MqttSource",
           "MqttSourceConfig", "TlsConfig"]
