"""Assembles the AAS Part 2 read API (repositories plus single-object services) over a ModelRepository.

Every handler is `async def`: the pipeline mutates the model in place on the
event loop, and a handler in FastAPI's thread pool would read it mid-update.
"""

from __future__ import annotations

from enum import Enum

from fastapi import FastAPI
from starlette.responses import Response

from aas_models.repository import ModelRepository
from gateway import version as gateway_version
from gateway.api import access as access_mod
from gateway.api import encoding as enc
from gateway.api import fastpath
from gateway.api import openapi as openapi_doc
from gateway.api import serialization as ser
from gateway.api.description import REPOSITORY_PROFILES, ServiceDescription, description
from gateway.api.errors import install_error_handlers
from gateway.api.history import HistoryBackend
from gateway.api.lookup import shell_by_id, submodel_by_id, submodel_of_shell
from gateway.api.repository_routes import shell_list_router, submodel_list_router
from gateway.api.security_headers import SecurityHeaders
from gateway.api.services import aas_service_router, submodel_service_router
from gateway.api.shell_routes import shell_router
from gateway.api.submodel_routes import submodel_router
from gateway.api.transport import RequestGuard
from gateway.api.write_routes import write_router
from gateway.auth.config import ApiLimitsConfig, CorsConfig
from gateway.auth.policy import AccessPolicy
from gateway.value_writer import ValueWriter

AAS_TAGS: list[str | Enum] = ["AAS Repository"]
SM_TAGS: list[str | Enum] = ["Submodel Repository"]


def create_app(
    repo: ModelRepository,
    *,
    access: AccessPolicy,  # required: no API is served without deciding who may use it
    cors: CorsConfig | None = None,
    history: HistoryBackend | None = None,
    writer: ValueWriter | None = None,  # PATCH $value routes only with one
    limits: ApiLimitsConfig | None = None,
    base_path: str = "/api/v3.0",
    title: str = "AAS edge gateway",
    version: str | None = None,  # default: the installed package version (gateway.version())
    summary: str = "Asset Administration Shell Part 2 REST API (read profiles SSP-002) with value history",
) -> FastAPI:
    base_path = base_path.rstrip("/")
    app = FastAPI(title=title, version=version or gateway_version(), summary=summary,
                  openapi_url=f"{base_path}/openapi.json", docs_url=f"{base_path}/docs", redoc_url=None)
    install_error_handlers(app)

    @app.get(f"{base_path}/description", tags=["Description"], response_model=ServiceDescription,
             summary="Profiles of the AAS and Submodel Repository")
    async def get_description() -> Response:
        return enc.json_response(description(REPOSITORY_PROFILES))

    @app.get(f"{base_path}/serialization", tags=["Serialization"],
             summary="Environment of selected shells and submodels (JSON, XML or AASX by Accept)")
    async def get_serialization(
        aas_ids: ser.AasIdsParam = None, submodel_ids: ser.SubmodelIdsParam = None,
        include_cds: ser.IncludeCdsParam = True, accept: ser.AcceptHeader = None,
    ) -> Response:
        return ser.serialize(repo, aas_ids, submodel_ids, include_cds, accept)

    # collection routes first: `/shells/$reference` must not be taken for a shell id
    app.include_router(shell_list_router(repo, AAS_TAGS), prefix=base_path)
    app.include_router(submodel_list_router(repo, SM_TAGS), prefix=base_path)
    app.include_router(aas_service_router(repo, history), prefix=base_path)
    app.include_router(submodel_service_router(repo, history), prefix=base_path)
    app.include_router(shell_router(repo, shell_by_id(repo), AAS_TAGS), prefix=f"{base_path}/shells/{{aasIdentifier}}")
    app.include_router(submodel_router(submodel_of_shell(repo), history, AAS_TAGS),
                       prefix=f"{base_path}/shells/{{aasIdentifier}}/submodels/{{submodelIdentifier}}")
    app.include_router(submodel_router(submodel_by_id(repo), history, SM_TAGS),
                       prefix=f"{base_path}/submodels/{{submodelIdentifier}}")
    if writer is not None:
        app.include_router(write_router(writer, repo), prefix=base_path)
    # middleware, innermost first: the fast path, access control (inside CORS), the transport rules
    # (Host, HEAD, body limits), and outermost the security headers, on every response whoever made it
    fastpath.install(app, repo, base_path)
    access_mod.install(app, access, cors)
    app.add_middleware(RequestGuard, limits=limits or ApiLimitsConfig())
    app.add_middleware(SecurityHeaders, docs_paths=(f"{base_path}/docs", f"{base_path}/docs/oauth2-redirect"))
    app.state.limits = limits or ApiLimitsConfig()
    openapi_doc.install(app)
    return app
