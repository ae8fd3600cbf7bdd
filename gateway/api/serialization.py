"""`GET /serialization`: an environment of selected shells and submodels as JSON, XML or AASX.

The format follows the Accept header; the BaSyx adapters write it, so the file
is exactly what other AAS tools read.
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated

from basyx.aas import model
from fastapi import Header, Query
from starlette.responses import Response

from aas_models.basyx_adapters import json_adapter
from aas_models.repository import ModelRepository
from gateway.api.encoding import Encoder
from gateway.api.errors import ApiError, NotFound
from gateway.api.ids import decode_id

AASX = "application/asset-administration-shell-package+xml"
XML = "application/xml"
JSON = "application/json"

IdsParam = Annotated[list[str] | None, Query(description="base64url-encoded ids, comma-separated or repeated")]


def _ids(values: list[str] | None, what: str) -> list[str]:
    return [decode_id(p, what) for v in values or [] for p in v.split(",") if p]


def _media_type(accept: str | None) -> str:
    if not accept:
        return JSON
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for t in types:
        if t in (JSON, AASX, XML):
            return t
        if t == "text/xml":
            return XML
        if t in ("*/*", "application/*"):
            return JSON
    raise ApiError(406, f"Serialization is available as {JSON}, {XML} or {AASX}")


def _store(
    repo: ModelRepository, aas_ids: list[str], submodel_ids: list[str], with_cds: bool
) -> model.DictIdentifiableStore:
    for aas_id in aas_ids:
        if repo.shell(aas_id) is None:
            raise NotFound(f"No shell with id {aas_id!r}")
    for sm_id in submodel_ids:
        if repo.submodel(sm_id) is None:
            raise NotFound(f"No submodel with id {sm_id!r}")
    if not aas_ids and not submodel_ids:
        wanted = [s.id for s in repo.shells()] + [s.id for s in repo.submodels()]
    else:
        wanted = aas_ids + submodel_ids
    if with_cds:
        wanted += [cd.id for cd in repo.concept_descriptions()]
    return repo.store(wanted)


def serialize(
    repo: ModelRepository, aas_ids: list[str] | None, submodel_ids: list[str] | None,
    include_cds: bool, accept: str | None,
) -> Response:
    media_type = _media_type(accept)
    store = _store(repo, _ids(aas_ids, "aasIds entry"), _ids(submodel_ids, "submodelIds entry"), include_cds)
    if media_type == JSON:
        return Response(json_adapter.object_store_to_json(store, encoder=Encoder).encode(), media_type=JSON)
    buf = io.BytesIO()
    # imported on the first request that wants them: they load lxml (see aas_models.basyx_adapters)
    if media_type == XML:
        from basyx.aas.adapter.xml import write_aas_xml_file

        write_aas_xml_file(buf, store)
    else:
        from basyx.aas.adapter import aasx

        with aasx.AASXWriter(buf) as writer:
            files = aasx.DictSupplementaryFileContainer()
            writer.write_all_aas_objects(_AASX_PART, store, files, write_json=True)
        buf = _with_json_part(buf, json_adapter.object_store_to_json(store, encoder=Encoder).encode())
    return Response(buf.getvalue(), media_type=media_type)


_AASX_PART = "/aasx/data.json"


def _with_json_part(package: io.BytesIO, data: bytes) -> io.BytesIO:
    """The package with its JSON part written by our Encoder: BaSyx's AASX writer uses its own, which
    writes `"specificAssetIds": []` for every Entity (the schema forbids empty arrays; see Encoder)."""
    out = io.BytesIO()
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, data if item.filename == _AASX_PART.lstrip("/") else src.read(item.filename))
    return out


AasIdsParam = Annotated[list[str] | None, Query(alias="aasIds", description="base64url-encoded AAS ids")]
SubmodelIdsParam = Annotated[list[str] | None, Query(alias="submodelIds", description="base64url-encoded submodel ids")]
IncludeCdsParam = Annotated[bool, Query(alias="includeConceptDescriptions", description="Add the concept descriptions")]
AcceptHeader = Annotated[str | None, Header(description=f"{JSON} (default), {XML} or {AASX}")]
