"""Every bad input of issue 10 against a real gateway (uvicorn, a simulated machine behind it): a 4xx Result.

One table, one row per reported case (and its neighbours), with the status it must get. The rows
that write are checked in the audit log as well: a refused attempt is still recorded, with a
bounded excerpt of what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.api.ids import encode_id
from gateway.app import Gateway
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers, asset, gateway_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

AAS = "urn:test:aas:CNC01"
SM = f"/submodels/{encode_id(AAS + ':submodels:OperationalData')}"
TS = f"/submodels/{encode_id(AAS + ':submodels:TimeSeries')}"
VALUE = f"{SM}/submodel-elements/Feed.Override/$value"
HISTORY = f"{SM}/submodel-elements/Spindle.Speed/history"
JSON = {"Content-Type": "application/json"}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@dataclass
class Gw:
    gw: Gateway
    api: str
    operator: dict[str, str]
    admin: dict[str, str]
    cnc: CncMachine
    connects: int = 0
    seen: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gw]:
    tmp: Path = tmp_path_factory.mktemp("bad-input")
    cnc = CncMachine(name="CNC01", seed=1, port=0)
    await cnc.start()
    a = asset("CNC01", cnc, {"Feed.Override": "xs:double", "Spindle.Speed": "xs:double"})
    a["points"][0]["writable"] = True
    cfg = gateway_config(tmp, a, api=True)
    async with Gateway(cfg) as gateway:
        assert gateway.api_url is not None
        yield Gw(gateway, gateway.api_url, api_key_headers(cfg, "operator"), api_key_headers(cfg, "admin"), cnc)
    await cnc.stop()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    role: str = "operator"
    text: str = ""  # a word the Result text must contain
    audited: str | None = None  # the audit result this write attempt must leave


CASES = [
    # 500s from five kinds of input
    Case("semanticId nested 5000 deep", "GET", "/submodels", 400, params={"semanticId": b64(nested(5000))},
         text="nested"),
    Case("semanticId object nested 100 deep", "GET", "/submodels", 400,
         params={"semanticId": b64('{"keys":' + nested(100) + "}")}, text="nested"),
    Case("assetIds nested 5000 deep", "GET", "/shells", 400, params={"assetIds": b64(nested(5000))}, text="nested"),
    Case("PATCH nested 1000 deep", "PATCH", VALUE, 400, nested(1000).encode(), JSON, text="nested",
         audited="error: bad_request"),
    Case("PATCH nested 100000 deep", "PATCH", VALUE, 400, nested(30000).encode(), JSON, audited="error: bad_request"),
    Case("PATCH integer of 5000 digits", "PATCH", VALUE, 400, b"9" * 5000, JSON, text="characters",
         audited="error: bad_request"),
    Case("PATCH lone surrogate", "PATCH", VALUE, 400, b'"\\ud800"', JSON, text="surrogate",
         audited="error: bad_request"),
    Case("PATCH lone surrogate as a key", "PATCH", VALUE, 400, b'{"\\udc00": 1}', JSON, audited="error: bad_request"),
    Case("PATCH NaN token", "PATCH", VALUE, 400, b"NaN", JSON, audited="error: bad_request"),
    Case("PATCH 1e400", "PATCH", VALUE, 400, b"1e400", JSON, audited="error: bad_request"),
    Case("PATCH invalid UTF-8", "PATCH", VALUE, 400, b'"\xff\xfe"', JSON, text="UTF-8", audited="error: bad_request"),
    Case("history bucket=1e308", "GET", HISTORY, 400, params={"bucket": "1e308"}, text="bucket"),
    Case("history bucket=P99999999999999999999D", "GET", HISTORY, 400, params={"bucket": "P99999999999999999999D"}),
    Case("history bucket=1e-308", "GET", HISTORY, 400, params={"bucket": "1e-308"}),
    Case("history bucket=nan", "GET", HISTORY, 400, params={"bucket": "nan"}),
    Case("history from year 9999", "GET", HISTORY, 400, params={"from": "9999-12-31T00:00:00Z"}, text="between"),
    Case("history to year 1", "GET", HISTORY, 400, params={"to": "0001-01-01T00:00:00Z"}),
    Case("history limit=1e308", "GET", HISTORY, 400, params={"limit": "1e308"}),
    Case("history limit 5000 digits", "GET", HISTORY, 400, params={"limit": "9" * 5000}),
    Case("history limit=0", "GET", HISTORY, 400, params={"limit": "0"}),
    Case("paging limit 5000 digits", "GET", "/shells", 400, params={"limit": "9" * 5000}),
    Case("cursor 5000 digits", "GET", "/shells", 400, params={"cursor": b64("9" * 5000 + ":x")}),
    Case("expiresDays=1e300", "POST", "/../../admin/api-keys", 400, json.dumps(
        {"name": "x", "role": "reader", "expiresDays": 1e300}).encode(), JSON, role="admin", text="expiresDays"),
    Case("expiresDays=1e400", "POST", "/../../admin/api-keys", 400,
         b'{"name": "x", "role": "reader", "expiresDays": 1e400}', JSON, role="admin"),
    Case("api key name lone surrogate", "POST", "/../../admin/api-keys", 400, b'{"name": "\\ud800", "role": "reader"}',
         JSON, role="admin"),
    # no request-size limit
    Case("PATCH 5 MB", "PATCH", VALUE, 413, b"[" + b"1," * 2_500_000 + b"1]", JSON, text="max_body_bytes",
         audited="error: body_too_large"),
    Case("PATCH 10 MB bad string", "PATCH", VALUE, 413, b'"' + b"x" * 10_000_000 + b'"', JSON,
         audited="error: body_too_large"),
    Case("PATCH 60 KB bad string (under the limit)", "PATCH", VALUE, 400, b'"' + b"x" * 60_000 + b'"', JSON,
         text="xs:double", audited="error: bad_value"),
    Case("POST api key 5 MB", "POST", "/../../admin/api-keys", 413, b'{"name": "' + b"x" * 5_000_000 + b'"}', JSON,
         role="admin"),
    # HTTP correctness
    Case("HEAD a submodel", "HEAD", SM, 200),
    Case("HEAD a value", "HEAD", VALUE, 200),
    Case("HEAD history", "HEAD", HISTORY, 200),
    Case("HEAD /health/live", "HEAD", "/../../health/live", 200),
    Case("HEAD /health/ready", "HEAD", "/../../health/ready", 200),
    Case("HEAD /metrics", "HEAD", "/../../metrics", 200),
    Case("PATCH text/plain", "PATCH", VALUE, 415, b"42", {"Content-Type": "text/plain"},
         audited="error: unsupported_media_type"),
    Case("PATCH XML", "PATCH", VALUE, 415, b"<v>42</v>", {"Content-Type": "application/xml"},
         audited="error: unsupported_media_type"),
    Case("PATCH no Content-Type", "PATCH", VALUE, 415, b"42", audited="error: unsupported_media_type"),
    Case("PATCH latin-1 JSON", "PATCH", VALUE, 415, b"42", {"Content-Type": "application/json; charset=latin-1"}),
    Case("PATCH empty body", "PATCH", VALUE, 400, b"", JSON, audited="error: bad_request"),
    Case("POST api key as text/plain", "POST", "/../../admin/api-keys", 415, b'{"name": "x", "role": "reader"}',
         {"Content-Type": "text/plain"}, role="admin"),
    Case("405 names GET, HEAD and PATCH", "DELETE", VALUE, 405, text="allowed"),
    # tolerant reading
    Case('PATCH "85" for xs:double', "PATCH", VALUE, 204, b'"85"', {"Content-Type": "application/json; charset=utf-8"},
         audited="ok"),
    Case('PATCH {"Override": "90.5"}', "PATCH", VALUE, 204, b'{"Override": "90.5"}', JSON, audited="ok"),
    Case('PATCH "fast" for xs:double', "PATCH", VALUE, 400, b'"fast"', JSON, audited="error: bad_value"),
    Case("semanticId as base64url of a bare IRI", "GET", "/submodels", 200,
         params={"semanticId": b64("https://admin-shell.io/idta/TimeSeries/1/1")}),
    Case("assetIds as base64url of a bare global asset id", "GET", "/shells", 200,
         params={"assetIds": b64("urn:test:asset:CNC01")}),
    Case("Operation $metadata", "GET", f"{TS}/submodel-elements/ReadRecords/$metadata", 404),
]


async def _request(gw: Gw, http: httpx.AsyncClient, case: Case) -> httpx.Response:
    headers = {**(gw.admin if case.role == "admin" else gw.operator), **case.headers}
    url = gw.api + case.path
    if case.path.startswith("/../../"):
        url = gw.api.removesuffix("/api/v3.0") + case.path.removeprefix("/../..")
    return await http.request(case.method, url, content=case.body, headers=headers, params=case.params)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input_table(gw: Gw, case: Case) -> None:
    audit_before = _audit_lines(gw)
    async with httpx.AsyncClient(timeout=30) as http:
        r = await _request(gw, http, case)
    assert r.status_code == case.status, r.text[:300]
    if case.method == "HEAD":
        assert r.content == b""
    elif r.status_code >= 400:
        body = r.json()
        assert list(body) == ["messages"] and body["messages"][0]["messageType"] == "Error"
        text = body["messages"][0]["text"]
        assert case.text.lower() in text.lower(), text
        assert len(r.content) < 2000  # whatever was sent, the answer quotes an excerpt at most
    if case.status == 405:
        assert r.headers["allow"] == "GET, HEAD, PATCH"
    if case.name.startswith("semanticId as"):
        assert [s["idShort"] for s in r.json()["result"]] == ["TimeSeries"]
    if case.name.startswith("assetIds as"):
        assert [s["idShort"] for s in r.json()["result"]] == ["CNC01"]
    if case.audited is not None:
        new = await wait_for(lambda: _audit_lines(gw)[len(audit_before):], message=f"audit record of {case.name}")
        (rec,) = new
        assert rec["action"] == "write" and rec["result"] == case.audited, rec
        assert rec["target"].endswith("#Feed.Override")
        assert len(json.dumps(rec)) < 8000  # a bounded excerpt, not the body
        if case.body and case.status != 413:  # a body beyond the limit was never read
            assert rec["new"] is not None


def _audit_lines(gw: Gw) -> list[dict[str, Any]]:
    path = gw.gw.audit.path
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


async def test_the_machine_took_only_the_good_writes_and_stayed_connected(gw: Gw) -> None:
    """After the table: the last good write (90.5) is on the machine, and the OPC UA session never dropped."""
    from asyncua import Client

    async with Client(gw.cnc.endpoint) as c:
        assert await c.get_node(gw.cnc.node_id("Feed.Override")).read_value() == 90.5
    health = gw.gw.sources["CNC01"].health()
    assert health.state.value == "connected"
    assert await asyncio.to_thread(gw.gw.audit.path.read_text, encoding="utf-8")  # readable as strict UTF-8
