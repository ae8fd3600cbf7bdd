"""Enforce OPC UA OperationLimits, which asyncua only advertises.

Real PLCs reject a Read/Write/Browse/... request carrying more operations than their
``ServerCapabilities/OperationLimits`` allow, with service result ``BadTooManyOperations``; the
gateway must chunk its requests, and the simulators have to behave like the PLCs for the tests
to prove it does.

Hook: ``asyncua.server.uaprocessor.UaProcessor`` decodes each request and calls the matching
coroutine of ``InternalSession`` (``read``, ``write``, ``browse``,
``translate_browsepaths_to_nodeids``, ``create_monitored_items``, ``call``); a ``ServiceError``
raised there is turned into a ServiceFault carrying its status code. We wrap exactly those six
methods, once per process (idempotent), and only for *external* sessions (the server's own
internal session must stay unlimited). The limits are looked up per ``InternalServer`` in a
registry, so several simulators in one process can have different limits and plain asyncua
servers (not registered) are left untouched.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession

# limit name (OperationLimits browse name) -> default
DEFAULT_LIMITS: dict[str, int] = {
    "MaxNodesPerRead": 1000,
    "MaxNodesPerWrite": 1000,
    "MaxMonitoredItemsPerCall": 1000,
    "MaxNodesPerTranslateBrowsePathsToNodeIds": 1000,
    "MaxNodesPerBrowse": 1000,
    "MaxNodesPerMethodCall": 1000,
}

# InternalSession method -> (limit name, how to count the operations of its argument)
_GUARDED: dict[str, tuple[str, Callable[[Any], int]]] = {
    "read": ("MaxNodesPerRead", lambda p: len(p.NodesToRead or [])),
    "write": ("MaxNodesPerWrite", lambda p: len(p.NodesToWrite or [])),
    "browse": ("MaxNodesPerBrowse", lambda p: len(p.NodesToBrowse or [])),
    "translate_browsepaths_to_nodeids": ("MaxNodesPerTranslateBrowsePathsToNodeIds", lambda p: len(p or [])),
    "create_monitored_items": ("MaxMonitoredItemsPerCall", lambda p: len(p.ItemsToCreate or [])),
    "call": ("MaxNodesPerMethodCall", lambda p: len(p or [])),
}

_registry: weakref.WeakKeyDictionary[InternalServer, dict[str, int]] = weakref.WeakKeyDictionary()
_PATCH_FLAG = "_aas_sim_operation_limits_patched"


def resolve_limits(overrides: dict[str, int] | None) -> dict[str, int]:
    limits = dict(DEFAULT_LIMITS)
    for key, value in (overrides or {}).items():
        if key not in limits:
            raise ValueError(f"unknown operation limit {key!r}; known: {sorted(limits)}")
        limits[key] = int(value)
    return limits


def register(iserver: InternalServer, limits: dict[str, int]) -> None:
    install()
    _registry[iserver] = dict(limits)


def unregister(iserver: InternalServer) -> None:
    _registry.pop(iserver, None)


def _guard(name: str, limit_name: str, count: Callable[[Any], int], original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    async def wrapper(self: InternalSession, params: Any, *args: Any, **kwargs: Any) -> Any:
        if self.external:
            limits = _registry.get(self.iserver)
            # 0 means "no limit" in OPC UA
            if limits and limits[limit_name] > 0 and count(params) > limits[limit_name]:
                raise ServiceError(ua.StatusCodes.BadTooManyOperations)
        return await original(self, params, *args, **kwargs)

    return wrapper


def install() -> None:
    """Patch ``InternalSession`` once per process; later calls are no-ops."""
    if getattr(InternalSession, _PATCH_FLAG, False):
        return
    for name, (limit_name, count) in _GUARDED.items():
        setattr(InternalSession, name, _guard(name, limit_name, count, getattr(InternalSession, name)))
    setattr(InternalSession, _PATCH_FLAG, True)


async def publish(iserver: InternalServer, limits: dict[str, int]) -> None:
    """Write the limits into ``Server/ServerCapabilities/OperationLimits`` so clients can discover them."""
    for key, value in limits.items():
        nodeid = ua.NodeId(getattr(ua.ObjectIds, f"Server_ServerCapabilities_OperationLimits_{key}"))
        await iserver.write_attribute_value(nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.UInt32)))
