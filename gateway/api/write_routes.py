"""`PATCH …/submodel-elements/{idShortPath}/$value`: write a live value to the machine (AAS Part 2).

Mounted under `/submodels/{id}` and the shell superpath `/shells/{aasId}/submodels/{id}`. The body
is ValueOnly: for a Property the named form `{"Speed": 1200}` that GET `$value` returns, or the bare
value `1200`. Answers (every error body is a Result):

* 204: the machine acknowledged the write (the live model follows through the subscription);
* 400: malformed or unbounded JSON, or a value that does not fit the element's valueType (named in
  the text);
* 404: no such element (an unknown submodel is refused before the route);
* 405: the element is not writable (not a point configured `writable: true`), or its source
  cannot write (MQTT); `Allow: GET, HEAD` says what the element does support;
* 408 / 413 / 415: the body did not arrive in time, is too large, or is not application/json;
* 502: the machine refused or is not reachable (the Result's code is the OPC UA status name,
  e.g. BadUserAccessDenied, BadOutOfRange, BadNotConnected); 504: it did not answer in time.

Every attempt that reaches the route is audited, whatever refused it, with an excerpt of the body.
"""

# no `from __future__ import annotations`: FastAPI must see the dependency types defined inside the factory
import contextlib
from typing import Annotated, Any

from basyx.aas import model
from fastapi import APIRouter, Depends, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from aas_models.repository import ModelRepository
from gateway.api.errors import ApiError, error_response
from gateway.api.lookup import submodel_by_id, submodel_of_shell
from gateway.api.request_body import json_value, read_body
from gateway.api.submodel_routes import IdShortPath, SubmodelDep, find_element
from gateway.value_writer import ValueWriter, WriteRefused

_STATUS = {"not_writable": 405, "unsupported": 405, "bad_value": 400, "refused": 502, "timeout": 504}

# the audit's result for a request refused before its value was read
_REJECTED = {400: "bad_request", 404: "not_found", 408: "body_timeout", 413: "body_too_large",
             415: "unsupported_media_type"}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "The machine took the value"},
    400: {"description": "Malformed body or a value not of the element's valueType; body is a Result"},
    404: {"description": "No such submodel or element; body is a Result"},
    405: {"description": "The element is not writable; body is a Result"},
    408: {"description": "The body did not arrive within api.limits.body_timeout_s; body is a Result"},
    413: {"description": "The body is larger than api.limits.max_body_bytes; body is a Result"},
    415: {"description": "The body is not application/json; body is a Result"},
    502: {"description": "The machine refused the write or is not connected; Result code = OPC UA status name"},
    504: {"description": "The machine did not answer in time; body is a Result"},
}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}, "examples": {
    "named": {"value": {"Override": 90.0}}, "bare": {"value": 90.0}}}}}}


def principal_name(request: Request) -> str:
    """The caller as the audit log names it (set by the auth middleware; "unknown" without one)."""
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "subject", None) or "unknown")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def write_router(writer: ValueWriter, repo: ModelRepository) -> APIRouter:
    """The PATCH $value routes for both mounts; include it under the API's base path."""
    router = APIRouter(responses=_RESPONSES)

    def add(prefix: str, submodel_dep: SubmodelDep, tag: str) -> None:
        SM = Annotated[model.Submodel, Depends(submodel_dep)]

        async def patch_element_value(request: Request, submodel: SM, idShortPath: IdShortPath) -> Response:
            actor, client = principal_name(request), client_address(request)
            element: model.SubmodelElement | None = None
            path, raw = idShortPath, None
            try:
                element, path = find_element(submodel, idShortPath)
                raw = await read_body(request)
                body = json_value(raw, "The ValueOnly body")
            except (ApiError, HTTPException) as e:
                status = e.status if isinstance(e, ApiError) else e.status_code
                text = e.text if isinstance(e, ApiError) else str(e.detail)
                if status == 415:  # refused for its media type: the record still shows what was sent
                    with contextlib.suppress(HTTPException):
                        raw = await request.body()
                await writer.record_rejected(submodel.id, path, element, raw, _REJECTED.get(status, str(status)),
                                             text, actor=actor, client=client)
                raise
            try:
                await writer.write(submodel.id, path, element, body, actor=actor, client=client)
            except WriteRefused as e:
                headers = {"Allow": "GET, HEAD"} if _STATUS[e.reason] == 405 else None
                return error_response(_STATUS[e.reason], e.text, e.status, headers=headers)
            return Response(status_code=204)

        router.add_api_route(f"{prefix}/submodel-elements/{{idShortPath}}/$value", patch_element_value,
                             methods=["PATCH"], status_code=204, tags=[tag], openapi_extra=_BODY,
                             summary="Write a live value to the machine (ValueOnly body)",
                             name=f"patch_element_value_{tag.split()[0].lower()}")

    add("/shells/{aasIdentifier}/submodels/{submodelIdentifier}", submodel_of_shell(repo), "AAS Repository")
    add("/submodels/{submodelIdentifier}", submodel_by_id(repo), "Submodel Repository")
    return router
