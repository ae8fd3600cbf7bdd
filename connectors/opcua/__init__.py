"""OPC UA source connector (asyncua): subscriptions or polling, self-healing.

`OpcUaSource` is the entry point; the rest of the package holds one concern
per module (addressing, server limits, value conversion, subscriptions,
polling).
"""

from connectors.opcua.config import OpcUaPointSpec, OpcUaSourceConfig
from connectors.opcua.source import OpcUaSource

__all__ = ["OpcUaPointSpec", "OpcUaSource", "OpcUaSourceConfig"]
