"""Per-point runtime state shared by the subscription and polling engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncua import ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.base import PointHealth
from connectors.opcua.config import OpcUaPointSpec


@dataclass(slots=True, eq=False)
class PointState:
    spec: OpcUaPointSpec
    handle: int  # OPC UA client handle = index in the source's point list
    health: PointHealth = field(default_factory=PointHealth)
    node_id: ua.NodeId | None = None  # resolved on the current session
    missing: bool = False  # node unknown/unresolvable: waits for the periodic retry
    monitored_item_id: int | None = None
    subscription: Any = None  # the _Subscription holding its monitored item
    seen: bool = False  # a notification arrived since the last existence check
    last_key: tuple[Any, ...] | None = None  # (value, status, source_ts) of the last sample emitted
    convert: Any = None  # Variant -> sample value for this session (values.converter); None: plain values

    @property
    def needs_structures(self) -> bool:
        """Its values may hold structures that only the server's definitions explain."""
        t = self.spec.type
        return t is not None and t.split("[", 1)[0] in ("Structure", "Variant", "DataValue")

    @property
    def point_id(self) -> str:
        return self.spec.point_id
