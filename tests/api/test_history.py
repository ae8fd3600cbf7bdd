"""The history route over a fake HistoryBackend: parameters, samples, buckets and errors."""

from __future__ import annotations

import httpx
import pytest

from aas_models.repository import ModelRepository
from gateway.api import create_app
from gateway.api.history import parse_bucket, parse_time
from tests.api import model_data as md
from tests.api.conftest import BASE, T0, FakeHistory, assert_result, b64
from tests.api.open_policy import open_policy

PATH = "/submodel-elements/Spindle.Speed/history"
SM = f"/submodels/{b64(md.SM_OPS)}"
ROUTES = [SM + PATH, f"/shells/{b64(md.AAS1)}/submodels/{b64(md.SM_OPS)}{PATH}", f"{SM}/submodel{PATH}",
          f"/shells/{b64(md.AAS1)}/aas/submodels/{b64(md.SM_OPS)}{PATH}"]


@pytest.mark.parametrize("route", ROUTES)
async def test_samples(client: httpx.AsyncClient, history: FakeHistory, route: str) -> None:
    r = await client.get(route)
    assert r.status_code == 200, r.text
    samples = r.json()["samples"]
    assert len(samples) == 10
    assert samples[0] == {
        "timestamp": "2024-05-01T12:00:00Z", "value": 1000.0, "status": "Good", "statusCode": 0,
        "sourceTimestamp": "2024-05-01T12:00:00Z", "serverTimestamp": "2024-05-01T12:00:00.000001Z",
    }
    assert samples[5]["value"] is None and samples[5]["statusCode"] == 0x80000000
    assert samples[5]["status"] == "Bad"
    assert history.calls[-1] == ("samples", "M1/OperationalData/Spindle.Speed", None, None, 1000)


async def test_samples_range_and_limit(client: httpx.AsyncClient, history: FakeHistory) -> None:
    r = await client.get(SM + PATH, params={"from": "2024-05-01T12:00:20Z", "to": "2024-05-01T14:00:40+02:00",
                                            "limit": 3})
    samples = r.json()["samples"]
    assert [s["value"] for s in samples] == [1002.0, 1003.0]
    assert history.calls[-1] == ("samples", "M1/OperationalData/Spindle.Speed", T0 + 20 * 10**9, T0 + 40 * 10**9, 3)


async def test_buckets(client: httpx.AsyncClient, history: FakeHistory) -> None:
    r = await client.get(SM + PATH, params={"from": "2024-05-01T12:00:00Z", "to": "2024-05-01T12:02:00Z",
                                            "bucket": "PT30S"})
    buckets = r.json()["buckets"]
    assert buckets[0] == {"start": "2024-05-01T12:00:00Z", "count": 3, "min": 1000.0, "max": 1002.0, "avg": 1001.0,
                          "last": 1002.0}
    assert buckets[1]["count"] == 2  # the Bad sample does not count
    assert history.calls[-1] == ("buckets", "M1/OperationalData/Spindle.Speed", T0, T0 + 120 * 10**9, 30 * 10**9)
    r = await client.get(SM + PATH, params={"from": "2024-05-01T12:00:00Z", "to": "2024-05-01T12:02:00Z",
                                            "bucket": "60", "agg": "max,count"})
    assert r.json()["buckets"][0] == {"start": "2024-05-01T12:00:00Z", "max": 1004.0, "count": 5}


async def test_bucket_defaults_to_the_last_hour(client: httpx.AsyncClient, history: FakeHistory) -> None:
    r = await client.get(SM + PATH, params={"bucket": "PT1M"})
    assert r.status_code == 200 and r.json() == {"buckets": []}
    _, _, start, end, _ = history.calls[-1]
    assert isinstance(start, int) and isinstance(end, int) and end - start == 3600 * 10**9


@pytest.mark.parametrize(
    "params",
    [{"from": "yesterday"}, {"to": "2024-13-01T00:00:00Z"}, {"bucket": "PT"}, {"bucket": "-5"}, {"bucket": "1 minute"},
     {"bucket": "PT0S"}, {"agg": "median"}, {"agg": ""}, {"limit": "0"}, {"limit": "100001"},
     {"from": "2024-05-01T13:00:00Z", "to": "2024-05-01T12:00:00Z"},
     {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "bucket": "PT1S", "limit": "10"}],
)
async def test_bad_parameters_are_400(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert_result(await client.get(SM + PATH, params=params), 400)


async def test_not_historised_or_missing_is_404(client: httpx.AsyncClient) -> None:
    assert_result(await client.get(SM + "/submodel-elements/Count/history"), 404)
    assert_result(await client.get(SM + "/submodel-elements/Spindle/history"), 404)
    assert_result(await client.get(SM + "/submodel-elements/Nope/history"), 404)
    assert_result(await client.get(f"/shells/{b64(md.AAS2)}/submodels/{b64(md.SM_OPS)}{PATH}"), 404)


async def test_without_backend_history_is_404(repo: ModelRepository) -> None:
    app = create_app(repo, access=open_policy())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t" + BASE) as c:
        assert_result(await c.get(SM + PATH), 404)


def test_parsers() -> None:
    assert parse_bucket("PT1M") == 60 * 10**9
    assert parse_bucket("PT0.5S") == 5 * 10**8
    assert parse_bucket("P1DT1H") == 25 * 3600 * 10**9
    assert parse_bucket("2.5") == 2_500_000_000
    assert parse_bucket(None) is None
    assert parse_time("2024-05-01T12:00:00Z", "from") == T0
    assert parse_time("2024-05-01T12:00:00.000001", "from") == T0 + 1000
    assert parse_time("2024-05-01T14:00:00+02:00", "from") == T0
