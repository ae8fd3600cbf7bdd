"""Fixtures for the API tests: the test model, an in-memory history backend and an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from aas_models.repository import ModelRepository
from gateway.api import create_app
from gateway.api.ids import encode_id
from gateway.historian.records import Bucket, HistoryRow
from tests.api import model_data as md
from tests.api.open_policy import open_policy

BASE = "/api/v3.0"
T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z


class FakeHistory:
    """HistoryBackend over a list of rows per point; buckets computed here like the historian does."""

    def __init__(self, points: dict[tuple[str, str], str], rows: dict[str, list[HistoryRow]]) -> None:
        self.points = points
        self.rows = rows
        self.calls: list[tuple[object, ...]] = []

    def point_for(self, submodel_id: str, id_short_path: str) -> str | None:
        return self.points.get((submodel_id, id_short_path))

    async def samples(self, point_id: str, start_ns: int | None, end_ns: int | None, limit: int) -> list[HistoryRow]:
        self.calls.append(("samples", point_id, start_ns, end_ns, limit))
        rows = [r for r in self.rows.get(point_id, [])
                if (start_ns is None or r.ts >= start_ns) and (end_ns is None or r.ts < end_ns)]
        return rows[:limit]

    async def buckets(self, point_id: str, start_ns: int, end_ns: int, bucket_ns: int) -> list[Bucket]:
        self.calls.append(("buckets", point_id, start_ns, end_ns, bucket_ns))
        groups: dict[int, list[HistoryRow]] = {}
        for r in self.rows.get(point_id, []):
            if start_ns <= r.ts < end_ns and r.status == 0 and r.value is not None:
                groups.setdefault(start_ns + (r.ts - start_ns) // bucket_ns * bucket_ns, []).append(r)
        out = []
        for start, rs in sorted(groups.items()):
            vals = [r.value for r in rs]
            out.append(Bucket(start, len(vals), min(vals), max(vals), sum(vals) / len(vals), vals[-1],
                              rs[0].ts, rs[-1].ts))
        return out


def _rows() -> list[HistoryRow]:
    rows = []
    for i in range(10):
        ts = T0 + i * 10 * 10**9  # every 10 s
        status = 0 if i != 5 else 0x80000000  # one Bad sample
        value = None if status else 1000.0 + i
        rows.append(HistoryRow(i, ts, value, status, ts, ts + 1000, ts + 2000))
    return rows


# one app for the whole session: FastAPI resolves the ~300 included routes lazily on the first
# request (a third of a second); the tests only read the model
@pytest.fixture(scope="session")
def repo() -> ModelRepository:
    return md.build_repository()


@pytest.fixture(scope="session")
def history() -> FakeHistory:
    return FakeHistory({(md.SM_OPS, "Spindle.Speed"): "M1/OperationalData/Spindle.Speed"},
                       {"M1/OperationalData/Spindle.Speed": _rows()})


@pytest.fixture(scope="session")
def app(repo: ModelRepository, history: FakeHistory) -> FastAPI:
    return create_app(repo, history=history, access=open_policy())


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test" + BASE) as c:
        yield c


def b64(identifier: str) -> str:
    return encode_id(identifier)


def assert_result(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is `status` with exactly a Part 2 Result body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["messages"]
    (msg,) = body["messages"]
    assert set(msg) == {"code", "messageType", "text", "timestamp"}
    assert msg["messageType"] == "Error"
    assert msg["code"] == str(status)
    assert msg["timestamp"].endswith("Z")
    assert isinstance(msg["text"], str) and msg["text"]
    return msg
