"""Writing a live value to its machine: which points may be written, in which type, and the audit trail.

The API hands over an element of the live model and a ValueOnly body; this module decides whether
that element is a point configured `writable: true`, converts the body to the point's valueType,
asks the point's source to write it and records the attempt, whatever its outcome, in the audit
log with the value the model showed just before. The live model itself is not touched: the
machine's answer comes back through the subscription, with the machine's own timestamp, so the
model never shows a value the machine did not take.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from basyx.aas import model

from aas_models.valueonly import property_value_from_json, property_value_from_lexical, property_value_to_json
from connectors.base import Source, WritableSource, WriteError, WriteValueError
from gateway.audit import AuditLog, body_excerpt

log = logging.getLogger(__name__)

Refusal = Literal["not_writable", "unsupported", "bad_value", "refused", "timeout"]

# the machine said no to this caller (rather than failing): audited as "denied"
_DENIED = frozenset({"BadUserAccessDenied", "BadNotWritable", "BadSecurityModeInsufficient",
                     "BadIdentityTokenRejected", "BadIdentityTokenInvalid"})


@dataclass(frozen=True, slots=True)
class WritePoint:
    """A configured point as the write path sees it."""

    point_id: str  # "{asset}/{submodel}/{path}"
    source: str  # name of its source (the asset's idShort), or "producer:NAME" for a derived input
    value_type: str  # xs:double ...
    writable: bool


class WriteRefused(Exception):
    """Why a write did not happen; `status` is the machine's status code name where it answered."""

    def __init__(self, reason: Refusal, text: str, status: str | None = None) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.status = status


class ValueWriter:
    """Writes Property values of writable points through their sources, auditing every attempt."""

    def __init__(self, points: Mapping[tuple[str, str], WritePoint], sources: Mapping[str, Source | object],
                 audit: AuditLog | None) -> None:
        self._points = dict(points)  # (submodel id, idShortPath) -> point
        self._sources = sources
        self._audit = audit

    async def write(self, submodel_id: str, path: str, element: model.SubmodelElement, body: Any, *,
                    actor: str, client: str) -> None:
        """Write the ValueOnly `body` to the element's machine; WriteRefused says why not."""
        target = f"{submodel_id}#{path}"
        point = self._points.get((submodel_id, path))
        old = _json_value(element)
        new: Any = body
        try:
            if point is None:
                raise WriteRefused("not_writable", f"Element {path!r} is not writable: it is not the Property of a "
                                   "configured point")
            if not isinstance(element, model.Property):
                raise WriteRefused("unsupported", f"Element {path!r} ({point.value_type}, a "
                                   f"{type(element).__name__}) cannot be written: writes take single values only")
            if not point.writable:
                raise WriteRefused("not_writable", f"Element {path!r} is not writable (its point is not configured "
                                   "'writable: true')")
            source = self._sources.get(point.source)
            if not isinstance(source, WritableSource):
                raise WriteRefused("unsupported", f"Element {path!r}: its source {point.source!r} does not support "
                                   "writes")
            value = _from_body(body, element)
            new = property_value_to_json(value, element.value_type)
            try:
                await source.write(point.point_id, value, point.value_type)
            except WriteValueError as e:  # refused before anything went to the machine
                raise WriteRefused("bad_value", f"Bad value for {point.value_type}: {e.message}") from None
            except WriteError as e:
                raise WriteRefused("timeout" if e.status == "BadTimeout" else "refused",
                                   f"The machine did not take the value for {path!r}: {e.status} ({e.message})",
                                   e.status) from None
        except WriteRefused as e:
            await self._record(actor, client, target, old, new, _result(e), e.text)
            raise
        except Exception as e:
            await self._record(actor, client, target, old, new, f"error: {type(e).__name__}", str(e))
            raise
        await self._record(actor, client, target, old, new, "ok", None)

    async def record_rejected(self, submodel_id: str, path: str, element: model.SubmodelElement | None,
                              raw: bytes | None, reason: str, text: str, *, actor: str, client: str) -> None:
        """Audit a write attempt refused before its value could be read (bad body, media type, size, path).

        `new` is a bounded excerpt of the body as sent (undecodable bytes escaped), so the record shows
        what was tried without holding a 10 MB body; `reason` becomes the result ``error: <reason>``.
        """
        old = _json_value(element) if element is not None else None
        await self._record(actor, client, f"{submodel_id}#{path}", old, body_excerpt(raw), f"error: {reason}", text)

    async def _record(self, actor: str, client: str, target: str, old: Any, new: Any, result: str,
                      detail: str | None) -> None:
        if self._audit is None:
            return
        # fsync per record: off the event loop, which keeps collecting meanwhile
        try:
            await asyncio.to_thread(self._audit.record, actor=actor, source=client, action="write", target=target,
                                    result=result, old=old, new=new, detail=detail)
        except Exception:
            # the machine has already answered: report its answer, and the lost record loudly
            log.exception("audit log %s: could not record write of %s by %s (%s)", self._audit.path, target, actor,
                          result)


def _result(e: WriteRefused) -> str:
    if e.reason == "not_writable" or e.status in _DENIED:
        return "denied"
    return f"error: {e.status or e.reason}"


def _json_value(element: model.SubmodelElement) -> Any:
    if isinstance(element, model.Property):
        return property_value_to_json(element.value, element.value_type)
    return None


def _from_body(body: Any, prop: model.Property) -> Any:
    """The xs value of a ValueOnly body: `{"idShort": v}` (what GET $value returns) or a bare `v`.

    `v` is native JSON (`85.0`, `true`) or, as some clients send it, a string holding a lexical
    form of the valueType (`"85"`, `"true"`): tolerant in what is read, the machine always gets
    the declared type.
    """
    if isinstance(body, dict):
        if set(body) != {prop.id_short}:
            raise WriteRefused("bad_value", f"Expected {{{prop.id_short!r}: value}} or a bare value, got an object "
                               f"with the keys {sorted(body)}")
        body = body[prop.id_short]
    vt = model.datatypes.XSD_TYPE_NAMES.get(prop.value_type, prop.value_type.__name__)
    if body is None:
        raise WriteRefused("bad_value", f"A value of type {vt} is required, got null")
    try:
        if isinstance(body, str):
            return property_value_from_lexical(body, prop.value_type)
        return property_value_from_json(body, prop.value_type)
    except ValueError as e:
        raise WriteRefused("bad_value", f"Bad value for valueType {vt}: {e}") from None
