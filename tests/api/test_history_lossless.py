"""The history route over the real historian: huge integers exact, repaired samples flagged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from aas_models.builder import build_asset
from aas_models.ids import submodel_id
from aas_models.repository import ModelRepository
from aas_models.spec import AssetSpec, PointSpec
from connectors.sample import FLAG_SOURCE_TS_INVALID, Sample
from gateway.api import create_app
from gateway.api.history import historian_backend
from gateway.historian import Historian
from tests.api.conftest import BASE, b64
from tests.api.open_policy import open_policy
from tests.historian.conftest import make_settings

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
AAS = "urn:test:aas:M1"
POINTS = {"Counter": "xs:unsignedLong", "Big": "xs:integer", "Temp": "xs:double"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Historian, httpx.AsyncClient]]:
    specs = tuple(PointSpec(f"M1/OperationalData/{p}", "OperationalData", p, t) for p, t in POINTS.items())
    model = build_asset(AssetSpec(AAS, "M1", "urn:test:asset:M1", specs))
    repo = ModelRepository()
    repo.add_shell(model.shell)
    for sm in model.submodels:
        repo.add_submodel(sm)
    async with Historian(make_settings(tmp_path / "h.sqlite")) as h:
        for s in specs:
            await h.register_series(s.point_id, s.value_type, None)
        mapping = [(submodel_id(AAS, "OperationalData"), s.path, s.point_id) for s in specs]
        app = create_app(repo, history=historian_backend(h, mapping), access=open_policy())
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test" + BASE) as client:
            yield h, client


def _route(path: str) -> str:
    return f"/submodels/{b64(submodel_id(AAS, 'OperationalData'))}/submodel-elements/{path}/history"


async def test_uint64_max_and_a_40_digit_integer_come_back_exact(served: tuple[Historian, httpx.AsyncClient]) -> None:
    h, client = served
    big = [2**64 - 1, 2**63, 1234567890123456789012345678901234567890, -(10**39)]
    await h.append([Sample("M1/OperationalData/Counter", v, T0 + i, None, T0 + i) for i, v in enumerate(big[:2])])
    await h.append([Sample("M1/OperationalData/Big", v, T0 + i, None, T0 + i) for i, v in enumerate(big[2:])])
    await h.flush()
    r = await client.get(_route("Counter"))
    assert r.status_code == 200, r.text
    assert [s["value"] for s in r.json()["samples"]] == [18446744073709551615, 9223372036854775808]
    assert b'"value":18446744073709551615' in r.content, "a JSON number, digit for digit"
    r = await client.get(_route("Big"))
    assert [s["value"] for s in r.json()["samples"]] == big[2:]


async def test_flags_appear_only_on_repaired_samples(served: tuple[Historian, httpx.AsyncClient]) -> None:
    h, client = served
    await h.append([Sample("M1/OperationalData/Temp", 20.5, None, T0, T0 + 5, 0, FLAG_SOURCE_TS_INVALID),
                    Sample("M1/OperationalData/Temp", 21.5, T0 + 10, T0 + 10, T0 + 15)])
    await h.flush()
    samples = (await client.get(_route("Temp"))).json()["samples"]
    assert samples[0] == {"timestamp": "2024-05-01T12:00:00Z", "value": 20.5, "status": "Good", "statusCode": 0,
                          "sourceTimestamp": None, "serverTimestamp": "2024-05-01T12:00:00Z",
                          "flags": ["SourceTimestampInvalid"]}
    assert "flags" not in samples[1] and samples[1]["value"] == 21.5
