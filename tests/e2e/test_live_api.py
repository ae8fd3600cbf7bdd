"""Acceptance: live values, connection status and history through the AAS REST API, on real sockets."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import httpx
import pytest

from connectors import status as st
from connectors.sample import datetime_to_ns, ns_to_iso
from gateway.app import Gateway
from simulators.imm import ImmMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on simulators over real sockets, for tens of seconds

IMM_POINTS = {
    "Machine.State": "xs:string", "Barrel.Zone1.Temperature": "xs:double", "Barrel.Zone1.Setpoint": "xs:double",
    "Counters.Shots": "xs:unsignedInt", "Injection.Pressure": "xs:double",
}


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def sm_url(api: str, aas_id: str, id_short: str) -> str:
    return f"{api}/submodels/{b64(f'{aas_id}:submodels:{id_short}')}"


async def _gateway(machines: Any, tmp_path: Path) -> tuple[Gateway, Any]:
    imm = await machines(ImmMachine, name="IMM01", seed=4)
    return Gateway(gateway_config(tmp_path, asset("IMM01", imm, IMM_POINTS), api=True)), imm


async def test_value_changes_and_lost_connection_is_visible(machines: Any, tmp_path: Path) -> None:
    gw, imm = await _gateway(machines, tmp_path)
    async with gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        op = sm_url(gw.api_url, "urn:test:aas:IMM01", "OperationalData")
        status = sm_url(gw.api_url, "urn:test:aas:IMM01", "GatewayStatus")
        temp_url = f"{op}/submodel-elements/Barrel.Zone1.Temperature/$value"

        async def temperature() -> float | None:
            r = await http.get(temp_url)
            assert r.status_code == 200, r.text
            return _unwrap(r.json(), "Temperature")

        first = await wait_for(temperature, message="a first temperature")
        setpoint = _unwrap((await http.get(f"{op}/submodel-elements/Barrel.Zone1.Setpoint/$value")).json(), "Setpoint")
        assert isinstance(first, float) and isinstance(setpoint, float)
        # the barrel heats towards its setpoint (first-order lag): a later read is closer
        second = await wait_for(lambda: _closer(temperature, first, setpoint), message="temperature moves")
        assert abs(second - setpoint) < abs(first - setpoint)
        r = await http.get(f"{status}/$value")
        assert r.json()["ConnectionState"] == "connected"

        await imm.stop()  # the machine goes away

        async def disconnected() -> dict[str, Any] | None:
            v = (await http.get(f"{status}/$value")).json()
            return v if v["ConnectionState"] == "disconnected" else None

        shown = await wait_for(disconnected, timeout=10, message="status submodel shows the lost connection")
        assert shown["BadPoints"] == len(IMM_POINTS)
        prop = (await http.get(f"{op}/submodel-elements/Barrel.Zone1.Temperature")).json()
        quals = {q["type"]: q.get("value") for q in prop.get("qualifiers", [])}
        assert quals["Quality"] == "Bad" and quals["StatusCode"] == f"0x{st.BAD_NOT_CONNECTED:08X}", quals


def _unwrap(value: Any, id_short: str) -> Any:
    """An element's ValueOnly form is `{idShort: value}` (IDTA-01001 value-only serialisation)."""
    assert isinstance(value, dict) and set(value) == {id_short}, value
    return value[id_short]


async def _closer(read: Any, first: float, setpoint: float) -> float | None:
    v = await read()
    return v if v is not None and abs(v - setpoint) < abs(first - setpoint) - 0.5 else None


async def test_history_route_matches_the_historian(machines: Any, tmp_path: Path) -> None:
    gw, imm = await _gateway(machines, tmp_path)
    async with gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        path = "Barrel.Zone1.Temperature"
        await wait_for(lambda: _enough(gw, path, 60), timeout=30, message="60 stored samples")
        imm.pause()
        await gw.historian.flush()
        rows = await gw.historian.query("IMM01", "OperationalData", path, limit=100000)
        # a range inside what is stored, with its ends on sample timestamps
        start, end = rows[5].ts, rows[-5].ts
        expected = [r for r in rows if start <= r.ts < end]
        url = f"{sm_url(gw.api_url, 'urn:test:aas:IMM01', 'OperationalData')}/submodel-elements/{path}/history"
        got = (await http.get(url, params={"from": ns_to_iso(start), "to": ns_to_iso(end),
                                           "limit": 100000})).json()["samples"]
        assert [s["value"] for s in got] == [r.value for r in expected]
        assert [_ns(s["timestamp"]) for s in got] == [r.ts // 1000 * 1000 for r in expected]
        assert all(s["status"] == "Good" for s in got)

        # bucketed aggregate == the same computation over the same samples
        bucket_ns = 2 * 10**9
        agg = (await http.get(url, params={"from": ns_to_iso(start), "to": ns_to_iso(end), "bucket": "PT2S",
                                           "agg": "min,max,avg,count"})).json()["buckets"]
        by_bucket: dict[int, list[float]] = {}
        for r in expected:
            by_bucket.setdefault(r.ts // bucket_ns * bucket_ns, []).append(r.value)
        assert len(agg) == len(by_bucket)
        for b in agg:
            values = by_bucket[_ns(b["start"])]
            assert b["count"] == len(values)
            assert b["min"] == min(values) and b["max"] == max(values)
            assert abs(b["avg"] - fmean(values)) < 1e-9


async def _enough(gw: Gateway, path: str, n: int) -> bool:
    await gw.historian.flush()
    return len(await gw.historian.query("IMM01", "OperationalData", path, limit=n)) >= n


def _ns(iso: str) -> int:
    ns = datetime_to_ns(datetime.fromisoformat(iso.replace("Z", "+00:00")))
    assert ns is not None
    return ns
