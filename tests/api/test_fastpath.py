"""The `$value` short cut answers exactly what the routed handler answers, and nothing else."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from basyx.aas import model
from starlette.types import Receive, Scope, Send

from aas_models import live
from aas_models.environment import build_repository
from aas_models.live import status_of
from aas_models.paths import element_path
from aas_models.pointtypes import canonical_value_type
from aas_models.repository import ModelRepository
from aas_models.spec import AssetSpec, PointSpec
from connectors.sample import Sample
from gateway.api import create_app
from gateway.api.fastpath import ValueFastPath
from gateway.app import build_model
from gateway.config import load_config
from gateway.live import LiveModelSink
from gateway.pipeline import Pipeline, PointInfo
from tests.aas_models.zoo import ZOO, id_short_for
from tests.api.open_policy import open_policy


def _walk(parent: Any) -> Iterator[Any]:
    """Every element below `parent`: children of collections and items of lists too, at any depth."""
    for child in getattr(parent, "submodel_element", None) or getattr(parent, "value", None) or []:
        yield child
        if isinstance(child, model.SubmodelElementCollection | model.SubmodelElementList):
            yield from _walk(child)


def _b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


@pytest.fixture
def repo() -> ModelRepository:
    return build_model(load_config("deploy/example-config.yaml"))[0]


TS = 1_700_000_000_123_456_789


@pytest.fixture
async def live_repo() -> ModelRepository:
    """A point of every type (tests/aas_models/zoo.py), each with a live value set the way a source's reading
    is: a Sample through the pipeline (which coerces it to the point's type) into the live model sink."""
    specs = tuple(PointSpec(f"Z/OperationalData/{id_short_for(t)}", "OperationalData", id_short_for(t),
                            canonical_value_type(t)) for t, *_ in ZOO)
    repo, models = build_repository([AssetSpec("urn:test:aas:Z", "Z", "urn:test:asset:Z", specs)])
    pipeline = Pipeline([PointInfo(p.point_id, "Z", p.submodel, p.path, p.value_type) for p in specs])
    pipeline.add_consumer(LiveModelSink(models["Z"].properties))
    readings = [raw for _, raw, *_ in ZOO]
    await pipeline.publish([Sample(p.point_id, raw, TS, TS, TS + 1) for p, raw in zip(specs, readings, strict=True)])
    for p in specs:
        assert status_of(models["Z"].properties[p.point_id]) == 0, f"{p.value_type}: the value was refused"
    return repo


async def _same_as_routed(repo: ModelRepository) -> dict[str, Any]:
    """GET every element's `$value` through the short cut alone and through the routed handler; the same
    status, content type and bytes (errors: the same messages). Returns what the short cut answered itself."""
    app = create_app(repo, access=open_policy())
    assert any(m.cls is ValueFastPath for m in app.user_middleware)
    # the short cut alone, in front of the full app: whatever it does not answer itself reaches `inner`
    fell_through: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        fell_through.append(scope["path"])
        await app(scope, receive, send)

    fast_only = ValueFastPath(inner, repo, "/api/v3.0")
    answered: dict[str, Any] = {}
    async with (httpx.AsyncClient(transport=httpx.ASGITransport(fast_only), base_url="http://t") as fast_client,
                httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c):
        for sm in repo.submodels():
            base = f"/api/v3.0/submodels/{_b64(sm.id)}/submodel-elements"
            for element in _walk(sm):
                url = f"{base}/{quote(element_path(element))}/$value"
                before = len(fell_through)
                fast = await fast_client.get(url)
                routed = await c.get(url, params={"level": "deep"})  # a query string bypasses the short cut
                assert (fast.status_code, fast.headers["content-type"]) == (
                    routed.status_code, routed.headers["content-type"]), url
                if fast.status_code == 200:
                    assert fast.content == routed.content, url
                    if len(fell_through) == before:
                        answered[element_path(element)] = fast.json()
                else:  # e.g. an Operation has no value: both answered by the routed handler, only the time differs
                    assert [{k: v for k, v in m.items() if k != "timestamp"} for m in fast.json()["messages"]] == [
                        {k: v for k, v in m.items() if k != "timestamp"} for m in routed.json()["messages"]]
    return answered


async def test_same_bytes_as_the_routed_handler_for_live_values_of_every_type(live_repo: ModelRepository) -> None:
    answered = await _same_as_routed(live_repo)
    # every point was answered by the short cut itself, with its live value, not null
    for t, *_, expected in ZOO:
        path = id_short_for(t)
        assert path in answered, f"{t}: the short cut did not answer"
        assert answered[path] == {path: expected}, t
    assert any("[" in p for p in answered), "items of lists answered too"
    assert any("." in p for p in answered), "children of structures answered too"


async def test_same_bytes_as_the_routed_handler_on_the_example_model(repo: ModelRepository) -> None:
    """The demo's model as configured: no live values yet, Operations, the nameplate's texts and files."""
    answered = await _same_as_routed(repo)
    assert len(answered) > 50


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
    from aas_models.datatypes import coercer

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
