"""The `$value` short cut answers exactly what the routed handler answers, and nothing else."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from basyx.aas import model

from aas_models.paths import element_path
from aas_models.repository import ModelRepository
from gateway.api import create_app
from gateway.api.fastpath import ValueFastPath
from gateway.app import build_model
from gateway.config import load_config
from tests.api.open_policy import open_policy


def _walk(parent: Any) -> Iterator[Any]:
    for child in getattr(parent, "submodel_element", None) or getattr(parent, "value", None) or []:
        yield child
        if isinstance(child, model.SubmodelElementCollection):
            yield from _walk(child)


def _b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


@pytest.fixture
def repo() -> ModelRepository:
    return build_model(load_config("deploy/example-config.yaml"))[0]


async def test_same_bytes_as_the_routed_handler(repo: ModelRepository) -> None:
    app = create_app(repo, access=open_policy())
    assert any(m.cls is ValueFastPath for m in app.user_middleware)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        for sm in repo.submodels():
            base = f"/api/v3.0/submodels/{_b64(sm.id)}/submodel-elements"
            for element in _walk(sm):
                url = f"{base}/{element_path(element)}/$value"
                fast = await c.get(url)
                routed = await c.get(url, params={"level": "deep"})  # a query string bypasses the short cut
                assert (fast.status_code, fast.headers["content-type"]) == (
                    routed.status_code, routed.headers["content-type"]), url
                if fast.status_code == 200:
                    assert fast.content == routed.content, url
                else:  # e.g. an Operation has no value: both answered by the routed handler, only the time differs
                    assert [{k: v for k, v in m.items() if k != "timestamp"} for m in fast.json()["messages"]] == [
                        {k: v for k, v in m.items() if k != "timestamp"} for m in routed.json()["messages"]]


async def test_errors_fall_through_to_the_full_api(repo: ModelRepository) -> None:
    app = create_app(repo, access=open_policy())
    op = _b64("urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        missing = await c.get(f"/api/v3.0/submodels/{op}/submodel-elements/Spindle.Nope/$value")
        bad_id = await c.get("/api/v3.0/submodels/%%%/submodel-elements/Spindle.Speed/$value")
        unknown_sm = await c.get(f"/api/v3.0/submodels/{_b64('urn:x')}/submodel-elements/A/$value")
        post = await c.post(f"/api/v3.0/submodels/{op}/submodel-elements/Spindle.Speed/$value")
    assert missing.status_code == 404 and set(missing.json()) == {"messages"}
    assert bad_id.status_code == 400 and set(bad_id.json()) == {"messages"}
    assert unknown_sm.status_code == 404
    assert post.status_code == 405 and set(post.json()) == {"messages"}


async def test_items_of_lists_and_structures_are_never_served_stale() -> None:
    """A point's list follows the data's length and a structure's children follow its fields: no caching there."""
    from urllib.parse import quote

    from aas_models import live
    from aas_models.datatypes import coercer
    from aas_models.environment import build_repository
    from aas_models.spec import AssetSpec, PointSpec

    points = (PointSpec("M/OperationalData/L", "OperationalData", "L", "xs:double[]"),
              PointSpec("M/OperationalData/S", "OperationalData", "S", "Structure"))
    repo, models = build_repository([AssetSpec("urn:t:aas:M", "M", "urn:t:asset:M", points)])
    lst, struct = models["M"].properties["M/OperationalData/L"], models["M"].properties["M/OperationalData/S"]
    app = create_app(repo, access=open_policy())
    base = f"/api/v3.0/submodels/{_b64('urn:t:aas:M:submodels:OperationalData')}/submodel-elements"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        live.set_live_value(lst, [1.0, 2.0, 3.0], 1, 0)
        live.set_live_value(struct, coercer("Structure")({"a": 1}), 1, 0)
        assert (await c.get(f"{base}/{quote('L[2]')}/$value")).json() == 3.0
        assert (await c.get(f"{base}/S.a/$value")).json() == {"a": 1}
        live.set_live_value(lst, [4.0], 2, 0)
        live.set_live_value(struct, coercer("Structure")({"a": "now a string"}), 2, 0)
        assert (await c.get(f"{base}/{quote('L[2]')}/$value")).status_code == 404
        assert (await c.get(f"{base}/{quote('L[0]')}/$value")).json() == 4.0
        assert (await c.get(f"{base}/S.a/$value")).json() == {"a": "now a string"}
        assert (await c.get(f"{base}/L/$value")).json() == {"L": [4.0]}
