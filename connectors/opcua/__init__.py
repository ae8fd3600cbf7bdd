"""OPC UA source connector (asyncua): subscriptions or polling, self-healing.

`OpcUaSource` is the entry point; the rest of the package holds one concern
per module (addressing, server limits, value conversion, subscriptions,
polling). Importing it installs the Part 6 DataValue codec (see codec.py)
before any client or server exists.
"""

from connectors.opcua import codec as _codec  # noqa: F401  (installs the DataValue codec override)
from connectors.opcua.config import OpcUaPointSpec, OpcUaSourceConfig
from connectors.opcua.source import OpcUaSource

__all__ = ["OpcUaPointSpec", "OpcUaSource", "OpcUaSourceConfig"]
