"""Route behaviour of the repositories, the shell superpath and the single-object services."""

from __future__ import annotations

import base64
import inspect
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.api import model_data as md
from tests.api.conftest import assert_result, b64

SM = f"/submodels/{b64(md.SM_OPS)}"
SHELL = f"/shells/{b64(md.AAS1)}"


def _json_b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_every_handler_and_dependency_is_async(app: FastAPI) -> None:
    # a `def` handler would run in the thread pool and race the pipeline's in-place updates
    def check(dependant: object) -> None:
        call = getattr(dependant, "call", None)
        if call is not None:
            assert inspect.iscoroutinefunction(call), call
        for sub in getattr(dependant, "dependencies", []):
            check(sub)

    def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
        for r in routes:
            if isinstance(r, APIRoute):
                yield r
            elif hasattr(r, "original_router"):  # FastAPI keeps included routers as nodes
                yield from api_routes(r.original_router.routes)

    routes = list(api_routes(app.routes))
    assert len(routes) > 50
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        check(route.dependant)


# --- AAS repository -------------------------------------------------------------------------------------------


async def test_get_all_shells_and_filters(client: httpx.AsyncClient) -> None:
    r = await client.get("/shells")
    assert r.status_code == 200
    body = r.json()
    assert body["paging_metadata"] == {}
    assert [s["id"] for s in body["result"]] == [md.AAS1, md.AAS2]

    r = await client.get("/shells", params={"idShort": "Machine2"})
    assert [s["id"] for s in r.json()["result"]] == [md.AAS2]
    r = await client.get("/shells", params={"idShort": "nope"})
    assert r.json()["result"] == []


@pytest.mark.parametrize(
    ("asset_ids", "expected"),
    [
        ([{"name": "globalAssetId", "value": "urn:example:assets:M2"}], [md.AAS2]),
        ([{"name": "serialNumber", "value": "SN-001"}], [md.AAS1]),
        ([{"name": "serialNumber", "value": "SN-001"}, {"name": "globalAssetId", "value": "urn:example:assets:M2"}],
         []),
        ([{"name": "serialNumber", "value": "SN-002"}], []),
    ],
)
async def test_shells_by_asset_ids(
    client: httpx.AsyncClient, asset_ids: list[dict[str, str]], expected: list[str]
) -> None:
    r = await client.get("/shells", params={"assetIds": ",".join(_json_b64(a) for a in asset_ids)})
    assert [s["id"] for s in r.json()["result"]] == expected
    r = await client.get("/shells/$reference", params=[("assetIds", _json_b64(a)) for a in asset_ids])
    assert [ref["keys"][0]["value"] for ref in r.json()["result"]] == expected


async def test_asset_ids_must_be_specific_asset_id_json(client: httpx.AsyncClient) -> None:
    assert_result(await client.get("/shells", params={"assetIds": _json_b64(["x"])}), 400)
    # the base64url of a bare identifier (not JSON) is a global asset id, as some clients send it
    assert (await client.get("/shells", params={"assetIds": b64("not json")})).json()["result"] == []
    assert_result(await client.get("/shells", params={"assetIds": "invalid-base64url====="}), 400)


async def test_shell_routes(client: httpx.AsyncClient) -> None:
    r = await client.get(SHELL)
    assert r.json()["id"] == md.AAS1 and r.json()["modelType"] == "AssetAdministrationShell"
    # BaSyx keeps the references in a set; the API lists them in repository order in every process
    assert [ref["keys"][0]["value"] for ref in r.json()["submodels"]] == [md.SM_OPS, md.SM_IDENT]
    r = await client.get("/shells")
    assert [ref["keys"][0]["value"] for ref in r.json()["result"][0]["submodels"]] == [md.SM_OPS, md.SM_IDENT]
    r = await client.get(SHELL + "/$reference")
    assert r.json() == {"type": "ModelReference", "keys": [{"type": "AssetAdministrationShell", "value": md.AAS1}]}
    r = await client.get(SHELL + "/asset-information")
    assert r.json()["globalAssetId"] == "https://example.com/assets/M1"
    r = await client.get(SHELL + "/submodel-refs")
    assert [ref["keys"][0]["value"] for ref in r.json()["result"]] == [md.SM_OPS, md.SM_IDENT]
    assert_result(await client.get(SHELL + "/asset-information/thumbnail"), 404)
    assert_result(await client.get(f"/shells/{b64('urn:unknown')}"), 404)


async def test_superpath_serves_only_referenced_submodels(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{SHELL}/submodels/{b64(md.SM_OPS)}/submodel-elements/Spindle.Speed/$value")
    assert r.json() == {"Speed": 1200.5}
    r = await client.get(f"{SHELL}/submodels/{b64(md.SM_IDENT)}")
    assert r.json()["id"] == md.SM_IDENT
    # exists in the repository, but Machine1 does not reference it
    assert_result(await client.get(f"{SHELL}/submodels/{b64(md.SM_STATUS)}"), 404)
    assert_result(await client.get(f"{SHELL}/submodels/{b64(md.SM_ORPHAN)}/$value"), 404)
    assert_result(await client.get(f"/shells/{b64('urn:x')}/submodels/{b64(md.SM_OPS)}"), 404)


# --- Submodel repository ---------------------------------------------------------------------------------------


async def test_submodels_filter_by_semantic_id_and_id_short(client: httpx.AsyncClient) -> None:
    def ref(value: str) -> str:
        return _json_b64({"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]})

    r = await client.get("/submodels", params={"semanticId": ref(md.IDENT_SEMANTIC)})
    assert [s["id"] for s in r.json()["result"]] == [md.SM_IDENT, md.SM_ORPHAN]
    # supplementalSemanticIds match too
    r = await client.get("/submodels/$reference", params={"semanticId": ref(md.SUPPLEMENTAL)})
    assert [x["keys"][0]["value"] for x in r.json()["result"]] == [md.SM_OPS]
    r = await client.get("/submodels", params={"semanticId": ref(md.IDENT_SEMANTIC), "idShort": "Status"})
    assert r.json()["result"] == []
    r = await client.get("/submodels/$path", params={"idShort": "Identification"})
    assert r.json()["result"] == ["Identification", "Identification"]
    assert_result(await client.get("/submodels", params={"semanticId": _json_b64({"keys": []})}), 400)
    assert_result(await client.get("/submodels", params={"semanticId": "%%%"}), 400)


async def test_submodel_contents(client: httpx.AsyncClient) -> None:
    sm = (await client.get(SM)).json()
    assert sm["id"] == md.SM_OPS
    spindle = sm["submodelElements"][0]
    assert spindle["value"][1]["value"][0]["idShort"] == "Temp"  # deep by default

    meta = (await client.get(SM + "/$metadata")).json()
    assert "submodelElements" not in meta and meta["id"] == md.SM_OPS
    value = (await client.get(SM + "/$value")).json()
    assert value["Spindle"] == {"Speed": 1200.5, "Axis": {"Temp": 41.5, "Load": 0.25}}
    assert value["Count"] == 42 and value["Running"] is True and value["Temps"] == [20.5, 21.0, 22.25]
    assert value["Limits"] == {"min": 0.0, "max": 100.0}
    assert (await client.get(SM + "/$reference")).json()["keys"] == [{"type": "Submodel", "value": md.SM_OPS}]
    paths = (await client.get(SM + "/$path")).json()
    assert paths[:5] == ["Spindle", "Spindle.Speed", "Spindle.Axis", "Spindle.Axis.Temp", "Spindle.Axis.Load"]
    assert "Temps[2]" in paths and "Barrels[1].Setpoint" in paths and "Motor.Power" in paths
    core_paths = (await client.get(SM + "/$path", params={"level": "core"})).json()
    assert core_paths[:3] == ["Spindle", "Count", "Running"] and "Spindle.Speed" not in core_paths


async def test_level_core(client: httpx.AsyncClient) -> None:
    sm = (await client.get(SM, params={"level": "core"})).json()
    spindle = sm["submodelElements"][0]
    assert spindle["idShort"] == "Spindle" and "value" not in spindle
    el = (await client.get(SM + "/submodel-elements/Spindle", params={"level": "core"})).json()
    assert [c["idShort"] for c in el["value"]] == ["Speed", "Axis"]
    assert "value" not in el["value"][1]  # Axis' children stay out
    value = (await client.get(SM + "/$value", params={"level": "core"})).json()
    assert value["Spindle"] == {} and value["Temps"] == []
    # level on a Property does not apply and is ignored
    r = await client.get(SM + "/submodel-elements/Count", params={"level": "core"})
    assert r.json()["value"] == "42"


async def test_extent_blob(client: httpx.AsyncClient) -> None:
    logo = (await client.get(SM + "/submodel-elements/Logo")).json()
    assert logo == {"idShort": "Logo", "modelType": "Blob", "contentType": "image/png"}
    logo = (await client.get(SM + "/submodel-elements/Logo", params={"extent": "withBlobValue"})).json()
    assert base64.b64decode(logo["value"]) == b"\x89PNG\r\n"
    sm = (await client.get(SM, params={"extent": "withBlobValue"})).json()
    assert any(e.get("value") == logo["value"] for e in sm["submodelElements"])
    v = (await client.get(SM + "/submodel-elements/Logo/$value", params={"extent": "withBlobValue"})).json()
    assert v == {"Logo": {"contentType": "image/png", "value": logo["value"]}}
    r = await client.get(SM + "/submodel-elements/Logo/attachment")
    assert r.status_code == 200 and r.content == b"\x89PNG\r\n" and r.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/$metadata", {"level": "deep"}),
        ("/$metadata", {"level": "core"}),
        ("/$metadata", {"extent": "withBlobValue"}),
        ("/submodel-elements/$metadata", {"level": "core"}),
        ("/submodel-elements/Spindle/$metadata", {"extent": "withBlobValue"}),
        ("/$reference", {"level": "deep"}),
        ("/submodel-elements/$reference", {"level": "deep"}),
        ("/submodel-elements/Count/$reference", {"level": "deep"}),
        ("", {"level": "shallow"}),
        ("", {"extent": "all"}),
    ],
)
async def test_forbidden_and_invalid_modifiers(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
    assert_result(await client.get(SM + path, params=params), 400)


async def test_allowed_modifier_combinations(client: httpx.AsyncClient) -> None:
    for path, params in [("/$metadata", {"extent": "withoutBlobValue"}), ("/$reference", {"level": "core"}),
                         ("/$value", {"extent": "withoutBlobValue", "level": "core"}), ("/$path", {"level": "deep"})]:
        r = await client.get(SM + path, params=params)
        assert r.status_code == 200, (path, params, r.text)


async def test_elements(client: httpx.AsyncClient) -> None:
    els = (await client.get(SM + "/submodel-elements")).json()["result"]
    assert [e["idShort"] for e in els][:4] == ["Spindle", "Count", "Running", "Mode"]
    assert len(els) == 18
    meta = (await client.get(SM + "/submodel-elements/$metadata")).json()["result"]
    assert meta[1] == {"idShort": "Count", "modelType": "Property", "valueType": "xs:int"}
    values = (await client.get(SM + "/submodel-elements/$value")).json()["result"]
    assert values[:3] == [{"Spindle": {"Speed": 1200.5, "Axis": {"Temp": 41.5, "Load": 0.25}}}, {"Count": 42},
                          {"Running": True}]
    assert all("Reset" not in v and "Milling" not in v for v in values)  # no ValueOnly form
    refs = (await client.get(SM + "/submodel-elements/$reference")).json()["result"]
    assert refs[1]["keys"][-1] == {"type": "Property", "value": "Count"}

    r = await client.get(SM + "/submodel-elements/Temps%5B1%5D")
    assert r.json()["value"] == "21.0"
    assert (await client.get(SM + "/submodel-elements/Temps[1]/$value")).json() == 21.0
    ref = (await client.get(SM + "/submodel-elements/Barrels[1].Setpoint/$reference")).json()
    assert [k["value"] for k in ref["keys"]] == [md.SM_OPS, "Barrels", "1", "Setpoint"]
    assert (await client.get(SM + "/submodel-elements/Motor.Power/$value")).json() == {"Power": 7.5}
    assert (await client.get(SM + "/submodel-elements/Drives.Ratio")).json()["value"] == "2.5"
    assert (await client.get(SM + "/submodel-elements/Barrels/$path")).json() == [
        "Barrels", "Barrels[0]", "Barrels[0].Setpoint", "Barrels[1]", "Barrels[1].Setpoint"]
    assert (await client.get(SM + "/submodel-elements/Spindle/$path", params={"level": "core"})).json() == [
        "Spindle", "Spindle.Speed", "Spindle.Axis"]
    meta = (await client.get(SM + "/submodel-elements/Name/$metadata")).json()
    assert meta == {"idShort": "Name", "modelType": "MultiLanguageProperty"}


@pytest.mark.parametrize("suffix", ["/$path", "/$metadata", "/$value"])
async def test_content_that_does_not_apply_is_404(client: httpx.AsyncClient, suffix: str) -> None:
    assert_result(await client.get(SM + "/submodel-elements/Reset" + suffix), 404)
    if suffix == "/$path":
        assert_result(await client.get(SM + "/submodel-elements/Count/$path"), 404)


async def test_attachment(client: httpx.AsyncClient) -> None:
    assert_result(await client.get(SM + "/submodel-elements/Manual/attachment"), 404)
    assert_result(await client.get(SM + "/submodel-elements/Count/attachment"), 405)


# --- single-object services -------------------------------------------------------------------------------------


async def test_aas_service(client: httpx.AsyncClient) -> None:
    base = SHELL
    assert (await client.get(base + "/aas")).json()["id"] == md.AAS1
    assert (await client.get(base + "/aas/")).json()["id"] == md.AAS1
    assert (await client.get(base + "/aas/$reference")).json()["keys"][0]["value"] == md.AAS1
    assert (await client.get(base + "/aas/asset-information")).json()["assetKind"] == "Instance"
    assert len((await client.get(base + "/aas/submodel-refs")).json()["result"]) == 2
    r = await client.get(f"{base}/aas/submodels/{b64(md.SM_IDENT)}/submodel-elements/Address.City/$value")
    assert r.json() == {"City": "Berlin"}
    assert_result(await client.get(f"{base}/aas/submodels/{b64(md.SM_STATUS)}"), 404)
    profiles = (await client.get(base + "/description")).json()["profiles"]
    assert "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellServiceSpecification/SSP-002" in profiles
    assert "https://admin-shell.io/aas/API/3/1/AssetAdministrationShellServiceSpecification/SSP-002" in profiles
    assert_result(await client.get(f"/shells/{b64('urn:nope')}/description"), 404)


async def test_submodel_service(client: httpx.AsyncClient) -> None:
    base = SM + "/submodel"
    assert (await client.get(base)).json()["id"] == md.SM_OPS
    assert (await client.get(base + "/")).json()["id"] == md.SM_OPS
    assert "submodelElements" not in (await client.get(base + "/$metadata")).json()
    assert (await client.get(base + "/$value")).json()["Count"] == 42
    assert (await client.get(base + "/submodel-elements/Count/$value")).json() == {"Count": 42}
    assert (await client.get(base + "/submodel-elements", params={"limit": 2})).json()["paging_metadata"]["cursor"]
    profiles = (await client.get(SM + "/description")).json()["profiles"]
    assert profiles == ["https://admin-shell.io/aas/API/3/0/SubmodelServiceSpecification/SSP-002",
                        "https://admin-shell.io/aas/API/3/1/SubmodelServiceSpecification/SSP-002"]


async def test_repository_description(client: httpx.AsyncClient) -> None:
    profiles = (await client.get("/description")).json()["profiles"]
    for spec in ("AssetAdministrationShellRepository", "SubmodelRepository"):
        for version in ("3/0", "3/1"):
            assert f"https://admin-shell.io/aas/API/{version}/{spec}ServiceSpecification/SSP-002" in profiles


# --- serialization ------------------------------------------------------------------------------------------------


async def test_serialization_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/serialization")
    assert r.headers["content-type"] == "application/json"
    env = r.json()
    assert len(env["assetAdministrationShells"]) == 2 and len(env["submodels"]) == 4
    assert env["conceptDescriptions"][0]["id"] == md.CD_SPEED
    r = await client.get("/serialization", params={"aasIds": b64(md.AAS2), "submodelIds": b64(md.SM_STATUS),
                                                   "includeConceptDescriptions": "false"})
    env = r.json()
    assert [s["id"] for s in env["assetAdministrationShells"]] == [md.AAS2]
    assert [s["id"] for s in env["submodels"]] == [md.SM_STATUS]
    assert "conceptDescriptions" not in env
    assert_result(await client.get("/serialization", params={"aasIds": b64("urn:nope")}), 404)
    assert_result(await client.get("/serialization", params={"includeConceptDescriptions": "maybe"}), 400)
    assert_result(await client.get("/serialization", headers={"Accept": "text/csv"}), 406)


async def test_serialization_aasx_and_xml(client: httpx.AsyncClient) -> None:
    aasx = "application/asset-administration-shell-package+xml"
    r = await client.get("/serialization", params={"aasIds": b64(md.AAS1)}, headers={"Accept": aasx})
    assert r.status_code == 200 and r.headers["content-type"] == aasx
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = z.namelist()
        assert "aasx/data.json" in names and "[Content_Types].xml" in names
        data = json.loads(z.read("aasx/data.json"))
    assert [s["id"] for s in data["assetAdministrationShells"]] == [md.AAS1]
    r = await client.get("/serialization", headers={"Accept": "application/xml"})
    assert r.headers["content-type"].startswith("application/xml") and b"<aas:environment" in r.content


async def test_openapi_documents_history_and_modifiers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/api/v3.0/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/history"]["get"]
    names = {p["name"]: p for p in op["parameters"]}
    assert {"from", "to", "limit", "bucket", "agg", "idShortPath", "submodelIdentifier"} <= set(names)
    assert all(p.get("description") for p in names.values())
    schema = json.dumps(op["responses"]["200"])
    assert "HistorySamples" in schema and "HistoryBuckets" in schema
    assert "/api/v3.0/shells/{aasIdentifier}/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/history" \
        in spec["paths"]
    # the aas-test-engines compatibility routes stay out of the documented API
    assert "/api/v3.0/shells/{aasIdentifier}/aas/shells" not in spec["paths"]
