"""Writable analog setpoints refuse values outside their EURange, as PLCs do (BadOutOfRange).

asyncua stores any value of the right type. A real controller checks a setpoint against its
engineering range, and the gateway's write path must pass the machine's refusal on (HTTP 502
with the status code), so the simulators refuse too. Same hook as `simulators.limits`: one
wrapper around ``InternalSession.write`` per process, for external sessions only, with the
ranges looked up per ``InternalServer`` (other asyncua servers in the process are untouched).
"""

from __future__ import annotations

import dataclasses
import functools
import weakref
from collections.abc import Mapping
from typing import Any

from asyncua import ua
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession

_registry: weakref.WeakKeyDictionary[InternalServer, dict[ua.NodeId, tuple[float, float]]] = (
    weakref.WeakKeyDictionary())
_PATCH_FLAG = "_aas_sim_ranges_patched"


def register(iserver: InternalServer, ranges: Mapping[ua.NodeId, tuple[float, float]]) -> None:
    install()
    _registry[iserver] = dict(ranges)


def unregister(iserver: InternalServer) -> None:
    _registry.pop(iserver, None)


def out_of_range(wv: ua.WriteValue, ranges: Mapping[ua.NodeId, tuple[float, float]]) -> bool:
    if wv.AttributeId != ua.AttributeIds.Value:
        return False
    bounds = ranges.get(wv.NodeId)
    if bounds is None or wv.Value is None or wv.Value.Value is None:
        return False
    v = wv.Value.Value.Value
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return not bounds[0] <= v <= bounds[1]


def install() -> None:
    """Patch ``InternalSession.write`` once per process; later calls are no-ops."""
    if getattr(InternalSession, _PATCH_FLAG, False):
        return
    original = InternalSession.write

    @functools.wraps(original)
    async def write(self: InternalSession, params: ua.WriteParameters, *args: Any, **kwargs: Any) -> Any:
        ranges = _registry.get(self.iserver) if self.external else None
        nodes = list(params.NodesToWrite or [])
        refused = [bool(ranges) and out_of_range(wv, ranges or {}) for wv in nodes]
        if not any(refused):
            return await original(self, params, *args, **kwargs)
        passing = [wv for wv, bad in zip(nodes, refused, strict=True) if not bad]
        done = iter(await original(self, dataclasses.replace(params, NodesToWrite=passing), *args, **kwargs)
                    if passing else [])
        return [ua.StatusCode(ua.StatusCodes.BadOutOfRange) if bad else next(done) for bad in refused]  # type: ignore[arg-type]  # asyncua int subtype

    setattr(InternalSession, "write", write)  # noqa: B010 (a patch, like simulators.limits)
    setattr(InternalSession, _PATCH_FLAG, True)
