"""The read routes of one Asset Administration Shell, mountable under any prefix.

Mounted at `/shells/{aasIdentifier}` (AAS Repository) and at
`/shells/{aasIdentifier}/aas` (the shell as a single AAS Service).
"""

# no `from __future__ import annotations`: FastAPI must see the dependency types defined inside the factories
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from basyx.aas import model
from fastapi import APIRouter, Depends
from starlette.responses import Response

from aas_models.repository import ModelRepository
from gateway.api import encoding as enc
from gateway.api.errors import NotFound
from gateway.api.ids import page, paged_body
from gateway.api.modifiers import CursorParam, LimitParam

ShellDep = Callable[..., Awaitable[model.AssetAdministrationShell]]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (malformed id or parameter); body is a Result"},
    404: {"description": "Not found; body is a Result"},
}


def shell_json(repo: ModelRepository, shell: model.AssetAdministrationShell) -> Any:
    """The shell for `json.dumps`, with its submodel references in repository order."""
    data = enc.Encoder().default(shell)
    assert isinstance(data, dict)
    if "submodels" in data:
        data["submodels"] = repo.submodel_refs(shell)
    return data


def shell_router(repo: ModelRepository, shell_dep: ShellDep, tags: list[str | Enum]) -> APIRouter:
    router = APIRouter(tags=tags, responses=_ERRORS)
    Shell = Annotated[model.AssetAdministrationShell, Depends(shell_dep)]

    @router.get("", summary="The Asset Administration Shell")
    async def get_shell(shell: Shell) -> Response:
        return enc.json_response(shell_json(repo, shell))

    router.add_api_route("/", get_shell, methods=["GET"], include_in_schema=False)

    @router.get("/$reference", summary="A ModelReference to the shell")
    async def get_shell_reference(shell: Shell) -> Response:
        return enc.json_response(enc.reference(shell))

    @router.get("/asset-information", summary="The shell's asset information")
    async def get_asset_information(shell: Shell) -> Response:
        return enc.json_response(shell.asset_information)

    @router.get("/asset-information/thumbnail", summary="The thumbnail (the gateway stores none)")
    async def get_thumbnail(shell: Shell) -> Response:
        raise NotFound(f"No thumbnail stored for shell {shell.id!r}")

    @router.get("/submodel-refs", summary="References to the shell's submodels, paged")
    async def get_submodel_refs(shell: Shell, limit: LimitParam = None, cursor: CursorParam = None) -> Response:
        items, nxt = page(repo.submodel_refs(shell), limit, cursor)
        return enc.json_response(paged_body(list(items), nxt))

    return router
