"""Admin REST routes under `/admin`: the OPC UA trust list and the API keys, every action audited.

Only an `admin` may reach them (gateway/api/access.py decides that for the whole `/admin` prefix; the
dependency here checks again, so the routes stay safe if mounted elsewhere). The audit log and the
PKI are passed in as small protocols, so this module depends on neither implementation. An admin
action and its outcome, refused ones included, goes to the audit log with the caller's identity and
address; a created key's secret is returned once and appears nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from gateway.api.errors import ApiError, BadRequest, NotFound
from gateway.api.request_body import json_value, read_body
from gateway.audit import body_excerpt
from gateway.auth.apikeys import ApiKeyStore, UnknownKeyError, info_dict
from gateway.auth.principal import Principal, Role

log = logging.getLogger(__name__)


class AuditSink(Protocol):
    def record(self, *, actor: str, source: str, action: str, target: str, result: str,
               old: Any = None, new: Any = None, detail: str | None = None) -> None: ...


class PkiLike(Protocol):
    def list(self) -> list[Any]: ...
    def trust(self, thumbprint: str) -> Any: ...
    def untrust(self, thumbprint: str) -> Any: ...
    def remove(self, thumbprint: str) -> Any: ...


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="who or what uses the key")
    role: Role
    # bounded: a key for 10^300 days is no key that expires, and the date arithmetic overflows
    expires_days: float | None = Field(None, gt=0, le=36_500, alias="expiresDays")


_NEW_KEY_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": NewApiKey.model_json_schema(by_alias=True)}}}}


def require_admin(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or not principal.has("admin"):
        raise ApiError(403, "forbidden: the 'admin' role is needed")
    return principal


def _source(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"


def admin_router(*, pki: Callable[[], PkiLike] | None, keys: ApiKeyStore | None,
                 audit: AuditSink | None) -> APIRouter:
    """`pki` is called on first use (a gateway without OPC UA security never touches its PKI folder)."""
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
    pki_instance: list[PkiLike] = []

    def get_pki() -> PkiLike:
        if pki is None:
            raise ApiError(501, "no PKI in this gateway")
        if not pki_instance:
            pki_instance.append(pki())
        return pki_instance[0]

    async def record(request: Request, action: str, target: str, result: str, **kw: Any) -> None:
        principal: Principal = request.state.principal
        if audit is None:
            log.info("admin %s %s by %s from %s: %s", action, target, principal.subject, _source(request), result)
            return
        await asyncio.to_thread(audit.record, actor=principal.subject, source=_source(request), action=action,
                                target=target, result=result, **kw)

    @router.get("/pki/certificates", summary="Own, trusted and rejected OPC UA certificates")
    async def list_certificates() -> Response:
        certs = await asyncio.to_thread(get_pki().list)
        return JSONResponse([c.model_dump(mode="json") for c in certs])

    async def move(request: Request, action: str, thumbprint: str) -> Response:
        p = get_pki()
        fn = {"trust": p.trust, "untrust": p.untrust, "remove": p.remove}[action]
        try:
            before = {c.thumbprint: c.state for c in await asyncio.to_thread(p.list)}
            info = await asyncio.to_thread(fn, thumbprint)
        except KeyError as e:  # UnknownCertificateError
            await record(request, f"pki.{action}", thumbprint, "not_found")
            raise NotFound(str(e)) from None
        except ValueError as e:  # an ambiguous thumbprint prefix
            await record(request, f"pki.{action}", thumbprint, "refused", detail=str(e))
            raise ApiError(409, str(e)) from None
        await record(request, f"pki.{action}", info.thumbprint, "ok", old=before.get(info.thumbprint),
                     new=None if action == "remove" else info.state, detail=info.subject)
        return JSONResponse(info.model_dump(mode="json"))

    @router.post("/pki/certificates/{thumbprint}/trust", summary="Move a certificate to the trusted list")
    async def trust(thumbprint: str, request: Request) -> Response:
        return await move(request, "trust", thumbprint)

    @router.post("/pki/certificates/{thumbprint}/untrust", summary="Move a trusted certificate to rejected")
    async def untrust(thumbprint: str, request: Request) -> Response:
        return await move(request, "untrust", thumbprint)

    @router.delete("/pki/certificates/{thumbprint}", summary="Delete a trusted or rejected certificate")
    async def remove(thumbprint: str, request: Request) -> Response:
        return await move(request, "remove", thumbprint)

    def get_keys() -> ApiKeyStore:
        if keys is None:
            raise ApiError(501, "API keys are not enabled in this gateway")
        return keys

    @router.get("/api-keys", summary="API keys (never their secrets)")
    async def list_keys() -> Response:
        return JSONResponse([info_dict(i) for i in await asyncio.to_thread(get_keys().list)])

    # the body is read here rather than by FastAPI, so that a refused one is audited like any other attempt
    @router.post("/api-keys", status_code=201, summary="Create an API key: the response is the only place "
                 "the key is ever shown", openapi_extra=_NEW_KEY_BODY,
                 responses={201: {"description": "The key (shown this once) and its listing"}})
    async def create_key(request: Request) -> Response:
        store = get_keys()
        raw = None
        try:
            raw = await read_body(request)
            body = NewApiKey.model_validate(json_value(raw))
        except ValidationError as e:
            text = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors())
            await record(request, "apikey.create", "-", "refused", new=body_excerpt(raw), detail=text)
            raise BadRequest(text) from None
        except (ApiError, HTTPException) as e:
            await record(request, "apikey.create", "-", "refused", new=body_excerpt(raw),
                         detail=e.text if isinstance(e, ApiError) else str(e.detail))
            raise
        key, info = await asyncio.to_thread(store.create, body.name, body.role, body.expires_days)
        await record(request, "apikey.create", info.id, "ok", new={"name": info.name, "role": info.role,
                                                                  "expires": info.expires})
        return JSONResponse({**info_dict(info), "key": key}, status_code=201,
                            headers={"Location": f"/admin/api-keys/{info.id}"})

    @router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key (effective at once)")
    async def revoke_key(key_id: str, request: Request) -> Response:
        try:
            info = await asyncio.to_thread(get_keys().revoke, key_id)
        except UnknownKeyError as e:
            await record(request, "apikey.revoke", key_id, "not_found")
            raise NotFound(str(e)) from None
        await record(request, "apikey.revoke", key_id, "ok", old={"name": info.name, "role": info.role})
        return Response(status_code=204)

    return router

