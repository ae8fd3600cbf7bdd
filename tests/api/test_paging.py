"""Paging: deterministic order, opaque cursors, the last page has no cursor."""

from __future__ import annotations

import httpx
import pytest

from gateway.api.ids import decode_cursor, encode_cursor, page
from tests.api import model_data as md
from tests.api.conftest import b64

SM = f"/submodels/{b64(md.SM_OPS)}"


async def _walk(client: httpx.AsyncClient, path: str, limit: int) -> list[object]:
    items: list[object] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await client.get(path, params=params)).json()
        assert len(body["result"]) <= limit
        items += body["result"]
        pages += 1
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            return items
        assert pages < 100


@pytest.mark.parametrize(
    "path",
    ["/shells", "/shells/$reference", "/submodels", "/submodels/$metadata", "/submodels/$value",
     "/submodels/$reference", "/submodels/$path", f"{SM}/submodel-elements", f"{SM}/submodel-elements/$metadata",
     f"{SM}/submodel-elements/$value", f"{SM}/submodel-elements/$reference", f"{SM}/submodel-elements/$path",
     f"/shells/{b64(md.AAS1)}/submodel-refs", f"{SM}/submodel/submodel-elements"],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
async def test_pages_concatenate_to_the_full_list(client: httpx.AsyncClient, path: str, limit: int) -> None:
    full = (await client.get(path)).json()
    assert full["paging_metadata"] == {}
    assert await _walk(client, path, limit) == full["result"]


async def test_order_is_the_repository_order(client: httpx.AsyncClient) -> None:
    ids = [s["id"] for s in (await client.get("/submodels")).json()["result"]]
    assert ids == [md.SM_OPS, md.SM_IDENT, md.SM_STATUS, md.SM_ORPHAN]


def test_page_helper() -> None:
    items = list(range(5))
    first, c1 = page(items, 2, None)
    assert list(first) == [0, 1] and c1 is not None
    second, c2 = page(items, 2, c1)
    assert list(second) == [2, 3] and c2 is not None
    last, c3 = page(items, 2, c2)
    assert list(last) == [4] and c3 is None
    assert page(items, 5, None) == (items, None)
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert "12345" not in encode_cursor(12345)
