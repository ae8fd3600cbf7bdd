"""Each shell and each submodel as its own single-object service (AAS Service, Submodel Service).

Registry descriptors point at `{base}/shells/{aasId}` and `{base}/submodels/{smId}`
as service base URLs; below them sit `/aas/...` or `/submodel/...`, plus the
service's `/description` and `/serialization`. The routes themselves are the
repository's routers mounted under another prefix.
"""

# no `from __future__ import annotations`: FastAPI must see the dependency types defined inside the factories
from enum import Enum
from typing import Annotated

from basyx.aas import model
from fastapi import APIRouter, Depends
from starlette.responses import Response

from aas_models.repository import ModelRepository
from gateway.api import encoding as enc
from gateway.api import serialization as ser
from gateway.api.description import AAS_SERVICE_PROFILES, SUBMODEL_SERVICE_PROFILES, ServiceDescription, description
from gateway.api.history import HistoryBackend
from gateway.api.ids import page, paged_body
from gateway.api.lookup import shell_by_id, submodel_by_id, submodel_of_shell
from gateway.api.modifiers import CursorParam, LimitParam
from gateway.api.shell_routes import shell_json, shell_router
from gateway.api.submodel_routes import submodel_router


def aas_service_router(repo: ModelRepository, history: HistoryBackend | None) -> APIRouter:
    tags: list[str | Enum] = ["AAS Service (single shell)"]
    router = APIRouter()
    find_shell = shell_by_id(repo)
    Shell = Annotated[model.AssetAdministrationShell, Depends(find_shell)]
    base = "/shells/{aasIdentifier}"

    @router.get(base + "/description", tags=tags, response_model=ServiceDescription,
                summary="Profiles of this AAS Service")
    async def get_aas_service_description(shell: Shell) -> Response:
        return enc.json_response(description(AAS_SERVICE_PROFILES))

    async def get_aas_service_serialization(
        shell: Shell, aas_ids: ser.AasIdsParam = None, submodel_ids: ser.SubmodelIdsParam = None,
        include_cds: ser.IncludeCdsParam = True, accept: ser.AcceptHeader = None,
    ) -> Response:
        return ser.serialize(repo, aas_ids, submodel_ids, include_cds, accept)

    router.add_api_route(base + "/serialization", get_aas_service_serialization, methods=["GET"], tags=tags,
                         summary="Environment of selected shells and submodels (JSON, XML or AASX)")
    # aas-test-engines 1.0.3 looks for the repository's /serialization and /shells below /aas;
    # these two hidden routes answer it with this shell only
    router.add_api_route(base + "/aas/serialization", get_aas_service_serialization, methods=["GET"],
                         include_in_schema=False)

    @router.get(base + "/aas/shells", include_in_schema=False)
    async def get_aas_service_shells(shell: Shell, limit: LimitParam = None, cursor: CursorParam = None) -> Response:
        items, nxt = page([shell], limit, cursor)
        return enc.json_response(paged_body([shell_json(repo, s) for s in items], nxt))

    router.include_router(shell_router(repo, find_shell, tags), prefix=base + "/aas")
    router.include_router(submodel_router(submodel_of_shell(repo), history, tags),
                          prefix=base + "/aas/submodels/{submodelIdentifier}")
    return router


def submodel_service_router(repo: ModelRepository, history: HistoryBackend | None) -> APIRouter:
    tags: list[str | Enum] = ["Submodel Service (single submodel)"]
    router = APIRouter()
    find_submodel = submodel_by_id(repo)
    Submodel = Annotated[model.Submodel, Depends(find_submodel)]
    base = "/submodels/{submodelIdentifier}"

    @router.get(base + "/description", tags=tags, response_model=ServiceDescription,
                summary="Profiles of this Submodel Service")
    async def get_submodel_service_description(submodel: Submodel) -> Response:
        return enc.json_response(description(SUBMODEL_SERVICE_PROFILES))

    async def get_submodel_service_serialization(
        submodel: Submodel, aas_ids: ser.AasIdsParam = None, submodel_ids: ser.SubmodelIdsParam = None,
        include_cds: ser.IncludeCdsParam = True, accept: ser.AcceptHeader = None,
    ) -> Response:
        return ser.serialize(repo, aas_ids, submodel_ids, include_cds, accept)

    router.add_api_route(base + "/serialization", get_submodel_service_serialization, methods=["GET"], tags=tags,
                         summary="Environment of selected shells and submodels (JSON, XML or AASX)")
    # aas-test-engines 1.0.3 compatibility, see aas_service_router: the shells that reference this submodel
    router.add_api_route(base + "/submodel/serialization", get_submodel_service_serialization, methods=["GET"],
                         include_in_schema=False)

    @router.get(base + "/submodel/shells", include_in_schema=False)
    async def get_submodel_service_shells(
        submodel: Submodel, limit: LimitParam = None, cursor: CursorParam = None
    ) -> Response:
        shells = [s for s in repo.shells() if any(r.key and r.key[0].value == submodel.id for r in s.submodel)]
        items, nxt = page(shells, limit, cursor)
        return enc.json_response(paged_body([shell_json(repo, s) for s in items], nxt))

    router.include_router(submodel_router(find_submodel, history, tags), prefix=base + "/submodel")
    return router
