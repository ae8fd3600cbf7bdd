"""OPC UA source connector (asyncua): subscriptions or polling, self-healing.

`OpcUaSource` is the entry point; the rest of the package holds one concern
per module (addressing, server limits, value conversion, subscriptions,
polling). `connectors.opcua.source` installs the Part 6 DataValue codec (see
codec.py) when it is imported, before any client exists.

The package's names are loaded on first use: the config models (`connectors.opcua.config`,
pydantic only) are read by every CLI command, asyncua (about 1 s to import) only by the ones
that talk OPC UA.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.opcua.config import OpcUaPointSpec, OpcUaSourceConfig
    from connectors.opcua.source import OpcUaSource

__all__ = ["OpcUaPointSpec", "OpcUaSource", "OpcUaSourceConfig"]

_HOME = {"OpcUaPointSpec": "connectors.opcua.config", "OpcUaSourceConfig": "connectors.opcua.config",
         "OpcUaSource": "connectors.opcua.source"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'connectors.opcua' has no attribute {name!r}")
