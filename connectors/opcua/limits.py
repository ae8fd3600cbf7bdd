"""Server OperationLimits, read once per session, and request chunking.

Servers reject oversized service calls with BadTooManyOperations (Telegraf
#11455, #19609). We read the advertised limits, cap them with our own sane
maxima, and halve a chunk size whenever a server still refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# our own ceilings: big enough to be cheap, small enough to stay below message size limits
_CAP_READ = 2000
_CAP_MONITORED = 1000
_CAP_TRANSLATE = 1000


@dataclass
class ServerLimits:
    max_nodes_per_read: int = _CAP_READ
    max_monitored_items_per_call: int = _CAP_MONITORED
    max_nodes_per_translate: int = _CAP_TRANSLATE
    max_monitored_items_per_subscription: int = 0  # 0 = no limit advertised


_LIMIT_NODES = {
    "max_nodes_per_read": (ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead, _CAP_READ),
    "max_monitored_items_per_call": (
        ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall, _CAP_MONITORED),
    "max_nodes_per_translate": (
        ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds,
        _CAP_TRANSLATE),
    "max_monitored_items_per_subscription": (
        ua.ObjectIds.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription, 0),
}


async def read_limits(client: Client) -> ServerLimits:
    """Read the server's advertised limits; missing or 0 means 'no limit' (we keep our caps)."""
    names = list(_LIMIT_NODES)
    params = ua.ReadParameters()
    for name in names:
        rv = ua.ReadValueId()
        rv.NodeId = ua.NodeId(_LIMIT_NODES[name][0])  # type: ignore[arg-type]  # asyncua int subtype
        rv.AttributeId = ua.AttributeIds.Value
        params.NodesToRead.append(rv)
    limits = ServerLimits()
    results = await client.uaclient.read(params)
    for name, dv in zip(names, results, strict=True):
        cap = _LIMIT_NODES[name][1]
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            continue
        value = dv.Value.Value if dv.Value is not None else None
        if not isinstance(value, int) or value <= 0:
            continue
        setattr(limits, name, min(value, cap) if cap else value)
    return limits


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]


_TOO_MANY = (ua.StatusCodes.BadTooManyOperations, ua.StatusCodes.BadRequestTooLarge,
             ua.StatusCodes.BadResponseTooLarge, ua.StatusCodes.BadEncodingLimitsExceeded,
             ua.StatusCodes.BadTooManyMonitoredItems)


async def call_chunked(items: Sequence[T], size: int, call: Callable[[Sequence[T]], Awaitable[list[R]]],
                       on_shrink: Callable[[int], None] | None = None) -> list[R]:
    """Run `call` over chunks of `items`, halving the chunk size when the server says it is too big."""
    out: list[R] = []
    i = 0
    while i < len(items):
        chunk = items[i:i + size]
        try:
            out.extend(await call(chunk))
        except ua.UaStatusCodeError as e:
            if e.code in _TOO_MANY and size > 1:
                size = max(1, size // 2)
                log.warning("server refused %d operations in one call (%s); retrying with %d",
                            len(chunk), type(e).__name__, size)
                if on_shrink:
                    on_shrink(size)
                continue
            raise
        i += len(chunk)
    return out
