"""OPC UA source connector (asyncua): subscriptions or polling, self-healing.

`OpcUaSource` is the entry point; the rest of the package holds one concern per module
(addressing, server limits, value conversion, subscriptions, polling). `descriptor` registers the
connector (`connectors.registry`); `config` holds its settings. Importing the package is cheap:
asyncua is loaded with the first module that uses it, and each of those installs the Part 6
DataValue codec (see codec.py) before any client or server exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.opcua.config import OpcUaPointSpec, OpcUaSourceConfig
    from connectors.opcua.source import OpcUaSource

__all__ = ["OpcUaPointSpec", "OpcUaSource", "OpcUaSourceConfig"]


def __getattr__(name: str) -> Any:  # lazy: `from connectors.opcua import OpcUaSource` imports asyncua then
    if name in ("OpcUaPointSpec", "OpcUaSourceConfig"):
        from connectors.opcua import config

        return getattr(config, name)
    if name == "OpcUaSource":
        from connectors.opcua.source import OpcUaSource

        return OpcUaSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
