"""The read routes of one Submodel and its element tree, mountable under any prefix.

The same tree appears four times (`/submodels/{id}`, the shell superpath
`/shells/{aasId}/submodels/{id}`, and the single-object services `.../submodel`
and `.../aas/submodels/{id}`); each mount only brings its own dependency that
finds the submodel, so there is one implementation of every route.
"""

# no `from __future__ import annotations`: FastAPI must see the dependency types defined inside the factories
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from basyx.aas import model
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from aas_models import paths as aas_paths
from gateway.api import encoding as enc
from gateway.api.errors import ApiError, BadRequest, NotFound
from gateway.api.history import HistoryBackend, add_history_route
from gateway.api.ids import page, paged_body
from gateway.api.modifiers import (
    CursorParam,
    ExtentParam,
    Level,
    LevelParam,
    LimitParam,
    check_metadata,
    check_reference,
    level_of,
    with_blob,
)
from gateway.api.submodel_cache import SubmodelJsonCache

SubmodelDep = Callable[..., Awaitable[model.Submodel]]
Target = tuple[model.Submodel, model.SubmodelElement, str]

IdShortPath = Annotated[
    str,
    Path(
        description="idShorts joined with '.', list indexes as [n], URL-encoded (e.g. `Spindle.Speed`, `Temps%5B0%5D`)",
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (malformed id, path or parameter); body is a Result"},
    404: {"description": "Not found; body is a Result"},
}


def find_element(submodel: model.Submodel, id_short_path: str) -> tuple[model.SubmodelElement, str]:
    try:
        parsed = aas_paths.parse_id_short_path(id_short_path)
    except ValueError as e:
        raise BadRequest(f"Invalid idShortPath {id_short_path!r}: {e}") from None
    try:
        element = aas_paths.resolve(submodel, parsed)
    except KeyError:
        raise NotFound(f"No element {id_short_path!r} in submodel {submodel.id!r}") from None
    return element, aas_paths.element_path(element)


def submodel_router(submodel_dep: SubmodelDep, history: HistoryBackend | None, tags: list[str | Enum]) -> APIRouter:
    """GET routes of a submodel tree; include it with a prefix whose path parameters `submodel_dep` reads."""
    router = APIRouter(tags=tags, responses=_ERRORS)
    SM = Annotated[model.Submodel, Depends(submodel_dep)]

    async def element_target(submodel: SM, idShortPath: IdShortPath) -> Target:
        element, path = find_element(submodel, idShortPath)
        return submodel, element, path

    Element = Annotated[Target, Depends(element_target)]

    # --- the submodel itself --------------------------------------------------------------------------------

    # the whole submodel is what dashboards poll: its JSON is kept and only what changed is re-encoded
    whole = SubmodelJsonCache()

    @router.get("", summary="The submodel (Normal)")
    async def get_submodel(submodel: SM, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        blob = with_blob(extent)
        if level_of(level) is Level.deep:
            return Response(whole.normal(submodel, blob), media_type="application/json")
        return enc.json_response(enc.normal(submodel, level_of(level), blob), with_blob=blob)

    # clients (and aas-test-engines) also ask for the service root with a trailing slash
    router.add_api_route("/", get_submodel, methods=["GET"], include_in_schema=False)

    @router.get("/$metadata", summary="The submodel without its elements")
    async def get_submodel_metadata(submodel: SM, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        check_metadata(level, extent)
        return enc.json_response(enc.metadata(submodel))

    @router.get("/$value", summary="The submodel in the ValueOnly serialisation")
    async def get_submodel_value(submodel: SM, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        return enc.json_response(enc.value_of(submodel, level_of(level), with_blob(extent)))

    @router.get("/$reference", summary="A ModelReference to the submodel")
    async def get_submodel_reference(submodel: SM, level: LevelParam = None) -> Response:
        check_reference(level)
        return enc.json_response(enc.reference(submodel))

    @router.get("/$path", summary="The idShortPaths of all elements of the submodel")
    async def get_submodel_path(submodel: SM, level: LevelParam = None) -> Response:
        return enc.json_response(enc.element_paths(submodel, level_of(level), include_self=False))

    # --- all elements (paged) -------------------------------------------------------------------------------

    @router.get("/submodel-elements", summary="The first-level elements, paged")
    async def get_all_elements(
        submodel: SM, limit: LimitParam = None, cursor: CursorParam = None,
        level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        items, nxt = page(enc.children(submodel), limit, cursor)
        blob = with_blob(extent)
        return enc.json_response(paged_body([enc.normal(e, level_of(level), blob) for e in items], nxt), with_blob=blob)

    @router.get("/submodel-elements/$metadata", summary="The first-level elements without values, paged")
    async def get_all_elements_metadata(
        submodel: SM, limit: LimitParam = None, cursor: CursorParam = None,
        level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        check_metadata(level, extent)
        items, nxt = page(enc.children(submodel), limit, cursor)
        # the kinds whose own `$metadata` is not applicable (Operation, Capability: Part 2 v3.0, and
        # IDTA's test engine expects an error for them) are left out, as `$value` leaves them out
        return enc.json_response(paged_body([enc.metadata(e) for e in items if enc.has_metadata_content(e)], nxt))

    @router.get("/submodel-elements/$value", summary="The first-level elements as ValueOnly objects, paged")
    async def get_all_elements_value(
        submodel: SM, limit: LimitParam = None, cursor: CursorParam = None,
        level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        items, nxt = page(enc.children(submodel), limit, cursor)
        values = [v for v in (enc.named_value(e, level_of(level), with_blob(extent)) for e in items) if v is not None]
        return enc.json_response(paged_body(values, nxt))

    @router.get("/submodel-elements/$reference", summary="References to the first-level elements, paged")
    async def get_all_elements_reference(
        submodel: SM, limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None,
    ) -> Response:
        check_reference(level)
        items, nxt = page(enc.children(submodel), limit, cursor)
        return enc.json_response(paged_body([enc.reference(e) for e in items], nxt))

    @router.get("/submodel-elements/$path", summary="idShortPaths of all elements (level=core: first level), paged")
    async def get_all_elements_path(
        submodel: SM, limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None,
    ) -> Response:
        items, nxt = page(enc.element_paths(submodel, level_of(level), include_self=False), limit, cursor)
        return enc.json_response(paged_body(list(items), nxt))

    # --- one element --------------------------------------------------------------------------------------------

    @router.get("/submodel-elements/{idShortPath}", summary="One element (Normal)")
    async def get_element(target: Element, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        blob = with_blob(extent)
        return enc.json_response(enc.normal(target[1], level_of(level), blob), with_blob=blob)

    @router.get("/submodel-elements/{idShortPath}/$metadata", summary="One element without its value or children")
    async def get_element_metadata(target: Element, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        check_metadata(level, extent)
        element = target[1]
        if not enc.has_metadata_content(element):
            raise NotFound(f"Content '$metadata' does not apply to a {type(element).__name__}")
        return enc.json_response(enc.metadata(element))

    @router.get("/submodel-elements/{idShortPath}/$value", summary="One element in the ValueOnly serialisation")
    async def get_element_value(target: Element, level: LevelParam = None, extent: ExtentParam = None) -> Response:
        return enc.json_response(enc.element_value(target[1], level_of(level), with_blob(extent)))

    @router.get("/submodel-elements/{idShortPath}/$reference", summary="A ModelReference to the element")
    async def get_element_reference(target: Element, level: LevelParam = None) -> Response:
        check_reference(level)
        return enc.json_response(enc.reference(target[1]))

    @router.get("/submodel-elements/{idShortPath}/$path", summary="idShortPaths of a collection, list or entity")
    async def get_element_path(target: Element, level: LevelParam = None) -> Response:
        element = target[1]
        if not enc.is_container(element):
            raise NotFound(f"Content '$path' does not apply to a {type(element).__name__}")
        return enc.json_response(enc.element_paths(element, level_of(level), include_self=True))

    @router.get("/submodel-elements/{idShortPath}/attachment", summary="Content of a Blob (File content is not stored)")
    async def get_attachment(target: Element) -> Response:
        element = target[1]
        if isinstance(element, model.Blob):
            if element.value is None:
                raise NotFound("The Blob has no content")
            return Response(bytes(element.value), media_type=element.content_type or "application/octet-stream")
        if isinstance(element, model.File):
            # the gateway keeps no file store: a File only names its content (a path or URL)
            raise NotFound(f"No attachment stored for File {target[2]!r} (value: {element.value!r})")
        raise ApiError(405, f"Attachments exist for File and Blob elements only, not for a {type(element).__name__}")

    add_history_route(router, element_target, history, tags)
    return router
