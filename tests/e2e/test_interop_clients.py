"""Third-party AAS HTTP client libraries from PyPI drive a real gateway with a simulated machine behind it.

* `basyx-client` (httpx; returns BaSyx SDK objects): sends every ValueOnly value as a string
  (`"85.5"` for an xs:double) and its semanticId filter as the base64url of the bare IRI;
* `aas-http-client` (requests; dicts): the encoded ids are the caller's, ValueOnly values as given;
* `aas-python-http-client` (urllib3; generated from IDTA's OpenAPI, reads responses into its models).

Each reads shells and submodels, pages with their cursors, filters by semanticId and writes a value
to the machine (PATCH `$value`), which the machine then holds. The clients are synchronous: they run
in a worker thread while the gateway serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
import pytest_asyncio
from asyncua import Client

from aas_models import ids
from gateway.api.ids import encode_id
from gateway.app import Gateway
from simulators.cnc import CncMachine
from simulators.energy import EnergyMeter
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers, asset, gateway_config

# slow: a running gateway read and written by third-party clients
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

CNC_SM = "urn:test:aas:CNC01:submodels:OperationalData"
GATEWAY_SHELL = "aas_edge_gateway"  # the gateway's own shell (its OperationRate submodel), named after gateway.name


@dataclass
class Served:
    gw: Gateway
    url: str
    token: str  # an operator's API key
    cnc: CncMachine


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("interop")
    cnc = CncMachine(name="CNC01", seed=1, port=0)
    meter = EnergyMeter(name="EM01", seed=1, port=0)
    await cnc.start()
    await meter.start()
    a = asset("CNC01", cnc, {"Feed.Override": "xs:double", "Spindle.Speed": "xs:double"})
    a["points"][0]["writable"] = True
    cfg = gateway_config(tmp, a, asset("EM01", meter, {"Power.Active": "xs:double"}), api=True)
    cfg = cfg.with_overrides({"api.auth.anonymous_read": False})
    async with Gateway(cfg) as gw:
        assert gw.api_url is not None
        token = api_key_headers(cfg, "operator")["Authorization"].removeprefix("Bearer ")
        await wait_for(lambda: gw.sources["CNC01"].health().state.value == "connected", message="CNC01 connected")
        yield Served(gw, gw.api_url, token, cnc)
    await meter.stop()
    await cnc.stop()


async def machine_value(cnc: CncMachine, path: str) -> Any:
    async with Client(cnc.endpoint) as c:
        return await c.get_node(cnc.node_id(path)).read_value()


# --- basyx-client ------------------------------------------------------------------------------------------------


def _basyx_client(url: str, token: str) -> Any:
    from basyx_client import AASClient

    return AASClient(url, auth=token, timeout=30)


async def test_basyx_client_reads_pages_filters_and_writes(served: Served) -> None:
    from basyx.aas import model

    def session() -> dict[str, Any]:
        with _basyx_client(served.url, served.token) as client:
            shells = client.shells.list()
            first = client.shells.list(limit=1)
            second = client.shells.list(limit=1, cursor=first.cursor)
            submodels = client.submodels.list(limit=100)
            series = client.submodels.list(semantic_id=ids.TIME_SERIES)  # base64url of the bare IRI
            element = client.submodels.elements.get(CNC_SM, "Feed.Override")
            value = client.submodels.elements.get_value(CNC_SM, "Feed.Override")
            client.submodels.elements.set_value(CNC_SM, "Feed.Override", 85.5)  # sent as the string "85.5"
            return {"shells": shells, "first": first, "second": second, "submodels": submodels, "series": series,
                    "element": element, "value": value}

    got = await asyncio.to_thread(session)
    assert {s.id_short for s in got["shells"].items} == {"CNC01", "EM01", GATEWAY_SHELL}
    assert all(isinstance(s, model.AssetAdministrationShell) for s in got["shells"].items)
    assert got["first"].has_more and len(got["first"].items) == 1 and len(got["second"].items) == 1
    assert got["first"].items[0].id != got["second"].items[0].id and got["second"].has_more  # 3 shells, pages of 1
    # OperationalData, TimeSeries, GatewayStatus of each (no nameplate), and the gateway's OperationRate
    assert len(got["submodels"].items) == 7
    assert sorted(s.id_short for s in got["series"].items) == ["TimeSeries", "TimeSeries"]
    assert isinstance(got["element"], model.Property) and got["element"].value_type is model.datatypes.Double
    assert got["value"] == {"Override": 100.0}
    assert await machine_value(served.cnc, "Feed.Override") == 85.5


# --- aas-http-client ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _no_update_check() -> Iterator[None]:
    """aas-http-client asks pypi.org for a newer version of itself when imported: not from a test."""
    import importlib.metadata

    import requests

    installed = importlib.metadata.version("aas-http-client")
    answer = mock.Mock(**{"json.return_value": {"info": {"version": installed}}})
    with mock.patch.object(requests, "get", return_value=answer):
        yield


def _aas_http_client() -> ModuleType:
    with _no_update_check():
        return importlib.import_module("aas_http_client")


async def test_aas_http_client_reads_pages_filters_and_writes(served: Served) -> None:
    aas_http_client = _aas_http_client()

    def session() -> dict[str, Any]:
        client = aas_http_client.aas_client.create_by_url(served.url, bearer_auth_token=served.token, time_out=30,
                                                          connection_time_out=10)
        assert client is not None
        sm = encode_id(CNC_SM)
        return {
            "shells": client.shells.get_all_asset_administration_shells(),
            "first": client.shells.get_all_asset_administration_shells(limit=1),
            "series": client.submodels.get_all_submodels(semantic_id=encode_id(json.dumps(
                {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": ids.TIME_SERIES}]}))),
            "series_iri": client.submodels.get_all_submodels(semantic_id=encode_id(ids.TIME_SERIES)),
            "value": client.submodels.get_submodel_element_by_path_value_only_submodel_repo(sm, "Feed.Override"),
            "patched": client.submodels.patch_submodel_element_by_path_value_only_submodel_repo(
                sm, "Feed.Override", {"Override": 91.5}),
            "patched_bare": client.submodels.patch_submodel_element_by_path_value_only_submodel_repo(
                sm, "Feed.Override", "92.5"),
        }

    got = await asyncio.to_thread(session)
    assert {s["idShort"] for s in got["shells"]["result"]} == {"CNC01", "EM01", GATEWAY_SHELL}
    cursor = got["first"]["paging_metadata"]["cursor"]
    assert len(got["first"]["result"]) == 1 and cursor

    def second_page() -> Any:
        client = aas_http_client.aas_client.create_by_url(served.url, bearer_auth_token=served.token)
        return client.shells.get_all_asset_administration_shells(limit=1, cursor=cursor)

    second = await asyncio.to_thread(second_page)
    assert [s["idShort"] for s in second["result"]] != [s["idShort"] for s in got["first"]["result"]]
    for found in (got["series"], got["series_iri"]):
        assert [s["idShort"] for s in found["result"]] == ["TimeSeries", "TimeSeries"]
    assert got["value"] == {"Override": 100.0} or "Override" in got["value"]
    assert got["patched"] is True and got["patched_bare"] is True
    assert await machine_value(served.cnc, "Feed.Override") == 92.5


# --- aas-python-http-client ----------------------------------------------------------------------------------------


async def test_aas_python_http_client_reads_pages_filters_and_writes(served: Served) -> None:
    """The client generated from IDTA's OpenAPI (rwth-iat): responses are read into its own models."""
    from aas_python_http_client import ApiClient, Configuration
    from aas_python_http_client.api.asset_administration_shell_repository_api_api import (
        AssetAdministrationShellRepositoryAPIApi,
    )
    from aas_python_http_client.api.submodel_repository_api_api import SubmodelRepositoryAPIApi

    def session() -> dict[str, Any]:
        cfg = Configuration()
        cfg.host = served.url
        client = ApiClient(cfg, header_name="Authorization", header_value=f"Bearer {served.token}")
        shells, submodels = AssetAdministrationShellRepositoryAPIApi(client), SubmodelRepositoryAPIApi(client)
        first = shells.get_all_asset_administration_shells(limit=1)
        sm = encode_id(CNC_SM)
        return {
            "first": first,
            "second": shells.get_all_asset_administration_shells(limit=1, cursor=first.paging_metadata.cursor),
            "series": submodels.get_all_submodels(semantic_id=encode_id(ids.TIME_SERIES)),
            "value": submodels.get_submodel_element_by_path_value_only_submodel_repo(sm, "Feed.Override"),
            "patched": submodels.patch_submodel_element_by_path_value_only_submodel_repo(
                {"Override": 77.0}, sm, "Feed.Override"),
        }

    got = await asyncio.to_thread(session)
    first, second = got["first"].result, got["second"].result
    assert len(first) == len(second) == 1 and {first[0].id_short, second[0].id_short} == {"CNC01", "EM01"}
    assert sorted(s.id_short for s in got["series"].result) == ["TimeSeries", "TimeSeries"]
    assert "Override" in got["value"]
    assert got["patched"] is None  # 204
    assert await machine_value(served.cnc, "Feed.Override") == 77.0
