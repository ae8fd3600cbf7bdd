"""Every error is a Part 2 Result body: bad input is 4xx, never 500; crashes are a logged 500 Result."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from gateway.api import encoding
from tests.api import model_data as md
from tests.api.conftest import assert_result, b64

SM = f"/submodels/{b64(md.SM_OPS)}"


@pytest.mark.parametrize(
    "path",
    [
        "/shells/invalid-base64url=====",
        "/shells/a",  # one base64 character cannot encode anything
        "/shells/%C3%A4bc",  # not in the base64url alphabet
        f"/shells/{b64('x')}===",
        "/submodels/+/+",
        f"/shells/{b64(md.AAS1)}/submodels/invalid-base64url=====",
        f"/submodels/{b64(md.SM_OPS)[:-1]}x",  # decodes, but not to UTF-8? either 400 or 404
    ],
)
async def test_malformed_ids_are_400(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code in (400, 404), r.text
    assert_result(r, r.status_code)
    if "invalid" in path or path.endswith("===") or "%C3" in path:
        assert r.status_code == 400


async def test_padded_ids_are_accepted(client: httpx.AsyncClient) -> None:
    padded = b64(md.AAS1) + "=" * (-len(b64(md.AAS1)) % 4)
    assert padded != b64(md.AAS1)
    assert (await client.get(f"/shells/{padded}")).json()["id"] == md.AAS1


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    msg = assert_result(await client.get(f"/submodels/{b64('urn:nothing')}"), 404)
    assert "urn:nothing" in str(msg["text"])
    assert_result(await client.get(f"/shells/{b64('urn:nothing')}/aas"), 404)
    assert_result(await client.get(f"/submodels/{b64('urn:nothing')}/submodel/$value"), 404)


@pytest.mark.parametrize("path", ["Spindle..Speed", "1abc", "Temps[x]", "Temps[1", ".Count", "Count.", "Sp ndle"])
async def test_malformed_id_short_path_is_400(client: httpx.AsyncClient, path: str) -> None:
    assert_result(await client.get(f"{SM}/submodel-elements/{path}"), 400)


@pytest.mark.parametrize("path", ["Nope", "Spindle.Nope", "Temps[3]", "Count.Child", "Spindle[0]", "Temps.x"])
async def test_missing_element_is_404(client: httpx.AsyncClient, path: str) -> None:
    assert_result(await client.get(f"{SM}/submodel-elements/{path}/$value"), 404)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", ""])
async def test_bad_limit_is_400(client: httpx.AsyncClient, limit: str) -> None:
    for path in ("/shells", "/submodels/$value", f"{SM}/submodel-elements", f"/shells/{b64(md.AAS1)}/submodel-refs"):
        assert_result(await client.get(path, params={"limit": limit}), 400)


@pytest.mark.parametrize("cursor", ["", "abc", "MTo1NGRhZjFhNQ==x", b64("1:00000000"), b64("-1:deadbeef"), b64("x:y")])
async def test_bad_cursor_is_400(client: httpx.AsyncClient, cursor: str) -> None:
    assert_result(await client.get("/submodels", params={"cursor": cursor}), 400)


async def test_tampered_cursor_is_400(client: httpx.AsyncClient) -> None:
    cursor = (await client.get("/submodels", params={"limit": 1})).json()["paging_metadata"]["cursor"]
    assert (await client.get("/submodels", params={"cursor": cursor})).status_code == 200
    forged = b64("2:" + base64.urlsafe_b64decode(cursor + "==").decode().split(":")[1])
    assert_result(await client.get("/submodels", params={"cursor": forged}), 400)


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_result(await client.get("/nothing/here"), 404)
    assert_result(await client.get(f"{SM}/submodel-elements/Count/$nonsense"), 404)
    r = await client.delete(SM)
    assert_result(r, 405)
    assert "GET" in r.headers["allow"]
    assert_result(await client.post("/shells", json={}), 405)
    assert_result(await client.patch(f"{SM}/submodel-elements/Count/$value", json=1), 405)


async def test_validation_errors_become_400(client: httpx.AsyncClient) -> None:
    msg = assert_result(await client.get(f"{SM}", params={"level": "everything"}), 400)
    assert "level" in str(msg["text"])
    assert_result(await client.get("/serialization", params={"includeConceptDescriptions": "invalid-bool"}), 400)


async def test_unexpected_exception_is_a_logged_500_result(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(obj: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(encoding, "metadata", boom)
    with caplog.at_level(logging.ERROR, logger="gateway.api.errors"):
        msg = assert_result(await client.get(f"{SM}/$metadata"), 500)
    assert "RuntimeError" in str(msg["text"])
    assert any("boom" in (r.exc_text or "") for r in caplog.records)
