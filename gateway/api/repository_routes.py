"""The collection routes of the AAS Repository (`/shells`) and Submodel Repository (`/submodels`).

Filters follow Part 2: `assetIds` and `semanticId` arrive as base64url-encoded JSON (a
SpecificAssetId, a Reference). Clients that send the base64url of the bare identifier instead (a
global asset id, a semantic id IRI), as other AAS servers accept, are understood too. Results are
paged in the repository's (configuration) order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Annotated, Any

from basyx.aas import model
from fastapi import APIRouter, Query
from starlette.responses import Response

from aas_models.repository import ModelRepository
from gateway.api import encoding as enc
from gateway.api.errors import BadRequest
from gateway.api.ids import decode_json_or_text_param, page, paged_body
from gateway.api.modifiers import (
    CursorParam,
    ExtentParam,
    LevelParam,
    LimitParam,
    check_metadata,
    check_reference,
    level_of,
    with_blob,
)
from gateway.api.shell_routes import shell_json

IdShortFilter = Annotated[str | None, Query(alias="idShort", description="Only objects with this idShort")]
AssetIdsFilter = Annotated[
    list[str] | None,
    Query(
        alias="assetIds",
        description="base64url-encoded SpecificAssetId JSON objects ({name, value}), comma-separated or repeated; "
        "name 'globalAssetId' matches the global asset id, as does the base64url of a bare identifier. "
        "A shell must match all of them.",
    ),
]
SemanticIdFilter = Annotated[
    str | None,
    Query(
        alias="semanticId",
        description="base64url-encoded Reference JSON, or the base64url of a bare IRI (matching a reference whose "
        "last key has that value); matches semanticId or one of the supplementalSemanticIds",
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {400: {"description": "Bad request; body is a Result"}}


def _split(values: Iterable[str]) -> list[str]:
    return [part for v in values for part in v.split(",") if part]


def _asset_id_pairs(values: list[str] | None) -> list[tuple[str, str]]:
    pairs = []
    for text in _split(values or []):
        data = decode_json_or_text_param(text, "assetIds entry")
        if isinstance(data, str):  # a bare identifier: the global asset id
            pairs.append(("globalAssetId", data))
            continue
        if not (isinstance(data, dict) and isinstance(data.get("name"), str) and isinstance(data.get("value"), str)):
            raise BadRequest("Each assetIds entry must be a SpecificAssetId JSON object with 'name' and 'value'")
        pairs.append((data["name"], data["value"]))
    return pairs


def _shell_has_asset_id(shell: model.AssetAdministrationShell, name: str, value: str) -> bool:
    info = shell.asset_information
    if name == "globalAssetId" and info.global_asset_id == value:
        return True
    return any(s.name == name and s.value == value for s in info.specific_asset_id)


def filter_shells(
    shells: Iterable[model.AssetAdministrationShell], id_short: str | None, asset_ids: list[str] | None
) -> list[model.AssetAdministrationShell]:
    pairs = _asset_id_pairs(asset_ids)
    return [
        s for s in shells
        if (id_short is None or s.id_short == id_short) and all(_shell_has_asset_id(s, n, v) for n, v in pairs)
    ]


def _reference_keys(data: Any) -> tuple[tuple[Any, Any], ...]:
    return tuple((k.get("type"), k.get("value")) for k in data.get("keys", ()) if isinstance(k, dict))


def _semantic_filter(text: str | None) -> Callable[[model.Reference], bool] | None:
    """Whether a reference matches the `semanticId` parameter (None: no filter)."""
    if text is None:
        return None
    data = decode_json_or_text_param(text, "semanticId")
    if isinstance(data, str):
        return lambda ref: bool(ref.key) and ref.key[-1].value == data
    if not (isinstance(data, dict) and isinstance(data.get("keys"), list) and data["keys"]):
        raise BadRequest("semanticId must be a Reference JSON object with a non-empty 'keys' array")
    keys = _reference_keys(data)
    if not all(isinstance(t, str) and isinstance(v, str) for t, v in keys):
        raise BadRequest("semanticId keys need a string 'type' and 'value'")
    return lambda ref: _semantic_keys(ref) == keys


def _semantic_keys(ref: model.Reference) -> tuple[tuple[str, str], ...]:
    return _reference_keys(json.loads(json.dumps(ref, cls=enc.Encoder)))


def filter_submodels(
    submodels: Iterable[model.Submodel], id_short: str | None, semantic_id: str | None
) -> list[model.Submodel]:
    wanted = _semantic_filter(semantic_id)
    out = []
    for sm in submodels:
        if id_short is not None and sm.id_short != id_short:
            continue
        if wanted is not None:
            refs = [r for r in (sm.semantic_id, *sm.supplemental_semantic_id) if r is not None]
            if not any(wanted(r) for r in refs):
                continue
        out.append(sm)
    return out


def shell_list_router(repo: ModelRepository, tags: list[str | Enum]) -> APIRouter:
    router = APIRouter(tags=tags, responses=_ERRORS)

    @router.get("/shells", summary="All Asset Administration Shells, paged")
    async def get_all_shells(
        id_short: IdShortFilter = None, asset_ids: AssetIdsFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None,
    ) -> Response:
        items, nxt = page(filter_shells(repo.shells(), id_short, asset_ids), limit, cursor)
        return enc.json_response(paged_body([shell_json(repo, s) for s in items], nxt))

    @router.get("/shells/$reference", summary="References to all shells, paged")
    async def get_all_shells_reference(
        id_short: IdShortFilter = None, asset_ids: AssetIdsFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None,
    ) -> Response:
        items, nxt = page(filter_shells(repo.shells(), id_short, asset_ids), limit, cursor)
        return enc.json_response(paged_body([enc.reference(s) for s in items], nxt))

    return router


def submodel_list_router(repo: ModelRepository, tags: list[str | Enum]) -> APIRouter:
    router = APIRouter(tags=tags, responses=_ERRORS)

    def select(id_short: str | None, semantic_id: str | None, limit: int | None, cursor: str | None) -> Any:
        return page(filter_submodels(repo.submodels(), id_short, semantic_id), limit, cursor)

    @router.get("/submodels", summary="All submodels, paged")
    async def get_all_submodels(
        semantic_id: SemanticIdFilter = None, id_short: IdShortFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        items, nxt = select(id_short, semantic_id, limit, cursor)
        blob = with_blob(extent)
        return enc.json_response(paged_body([enc.normal(s, level_of(level), blob) for s in items], nxt), with_blob=blob)

    @router.get("/submodels/$metadata", summary="All submodels without their elements, paged")
    async def get_all_submodels_metadata(
        semantic_id: SemanticIdFilter = None, id_short: IdShortFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        check_metadata(level, extent)
        items, nxt = select(id_short, semantic_id, limit, cursor)
        return enc.json_response(paged_body([enc.metadata(s) for s in items], nxt))

    @router.get("/submodels/$value", summary="All submodels in the ValueOnly serialisation, paged")
    async def get_all_submodels_value(
        semantic_id: SemanticIdFilter = None, id_short: IdShortFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None, extent: ExtentParam = None,
    ) -> Response:
        items, nxt = select(id_short, semantic_id, limit, cursor)
        return enc.json_response(paged_body([enc.value_of(s, level_of(level), with_blob(extent)) for s in items], nxt))

    @router.get("/submodels/$reference", summary="References to all submodels, paged")
    async def get_all_submodels_reference(
        semantic_id: SemanticIdFilter = None, id_short: IdShortFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None,
    ) -> Response:
        check_reference(level)
        items, nxt = select(id_short, semantic_id, limit, cursor)
        return enc.json_response(paged_body([enc.reference(s) for s in items], nxt))

    @router.get("/submodels/$path", summary="The idShort of each submodel (its root path), paged")
    async def get_all_submodels_path(
        semantic_id: SemanticIdFilter = None, id_short: IdShortFilter = None,
        limit: LimitParam = None, cursor: CursorParam = None, level: LevelParam = None,
    ) -> Response:
        # one entry per submodel, so that limit/cursor page through submodels as everywhere else
        items, nxt = select(id_short, semantic_id, limit, cursor)
        return enc.json_response(paged_body([s.id_short for s in items], nxt))

    return router
