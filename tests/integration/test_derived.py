"""A derived-data producer plugged in from outside the gateway: its points are stored, modelled and served."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from basyx.aas import model

from aas_models.ids import submodel_id
from connectors.base import Emit
from connectors.sample import Sample, now_ns
from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.derived import DerivedModel, DerivedPoint, register_factory, unregister_factory
from gateway.historian import Historian
from simulators.energy import EnergyMeter
from tests.conftest import wait_for
from tests.integration.conftest import api_key_headers, asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on simulators over real sockets


class CountingProducer:
    """Counts the meter's voltage samples and publishes the running count as a derived point."""

    name = "counter"

    def __init__(self, asset_name: str) -> None:
        self.asset = asset_name
        self.point = DerivedPoint(f"{asset_name}/Derived/SampleCount", asset_name, "Derived", "SampleCount", "xs:long")
        self.note = DerivedPoint(f"{asset_name}/Derived/Note", asset_name, "Derived", "Note", "xs:string",
                                 writable=True)
        self.prop = model.Property("SampleCount", model.datatypes.Long)
        self.note_prop = model.Property("Note", model.datatypes.String)
        self.count = 0
        self._changed = asyncio.Event()
        self._notes: list[str] = []

    def points(self) -> Sequence[DerivedPoint]:
        return [self.point, self.note]

    def models(self) -> Sequence[DerivedModel]:
        sm = model.Submodel(submodel_id(f"urn:test:aas:{self.asset}", "Derived"), id_short="Derived",
                            submodel_element=[self.prop, self.note_prop])
        return [DerivedModel(self.asset, [sm], {self.point.point_id: self.prop, self.note.point_id: self.note_prop})]

    async def put(self, samples: Sequence[Sample]) -> None:
        n = sum(1 for s in samples if s.point.endswith("/Voltage.L1") and s.value is not None)
        if n:
            self.count += n
            self._changed.set()

    async def write(self, point_id: str, value: object, value_type: str) -> None:
        assert point_id == self.note.point_id and value_type == "xs:string"
        self._notes.append(str(value))
        self._changed.set()

    async def run(self, emit: Emit) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            notes, self._notes = self._notes, []
            await emit([Sample(self.point.point_id, self.count, None, None, now_ns()),
                        *(Sample(self.note.point_id, n, None, None, now_ns()) for n in notes)])


async def test_a_registered_producer_publishes_derived_points(machines: Any, tmp_path: Path) -> None:
    meter = await machines(EnergyMeter, name="EM01", seed=1)
    cfg = gateway_config(tmp_path, asset("EM01", meter, {"Voltage.L1": "xs:double"}), api=True)
    made: list[CountingProducer] = []

    def factory(c: GatewayConfig, _h: Historian) -> list[CountingProducer]:
        made.append(CountingProducer(c.assets[0].id_short))
        return made[-1:]

    register_factory(factory)
    try:
        async with Gateway(cfg) as gw:
            async def stored() -> Any:
                await gw.historian.flush()
                rows = await gw.historian.query("EM01", "Derived", "SampleCount", limit=1000)
                return rows if rows and rows[-1].value >= 2 else None

            rows = await wait_for(stored, message="derived samples in the historian")
            assert [r.value for r in rows] == sorted(r.value for r in rows)
            assert made[0].prop.value >= rows[-1].value  # the live model follows the derived samples
            sm_id = submodel_id("urn:test:aas:EM01", "Derived")

            enc = base64.urlsafe_b64encode(sm_id.encode()).decode().rstrip("=")
            async with httpx.AsyncClient(base_url=gw.api_url or "") as client:
                r = await client.get(f"/submodels/{enc}/$value")
                assert r.status_code == 200 and r.json()["SampleCount"] >= rows[-1].value
                shell = base64.urlsafe_b64encode(b"urn:test:aas:EM01").decode().rstrip("=")
                refs = (await client.get(f"/shells/{shell}/submodel-refs")).json()["result"]
                assert any(k["value"] == sm_id for ref in refs for k in ref["keys"])
                hist = await client.get(f"/submodels/{enc}/submodel-elements/SampleCount/history")
                assert hist.status_code == 200 and len(hist.json()["samples"]) >= 2
                # an operator input: written through the producer, stored as a sample, audited
                url = f"/submodels/{enc}/submodel-elements/Note/$value"
                assert (await client.patch(url, json="x")).status_code == 401
                r = await client.patch(url, json="tool change", headers=api_key_headers(cfg, "operator"))
                assert r.status_code == 204, r.text
                r = await client.patch(f"/submodels/{enc}/submodel-elements/SampleCount/$value", json=5,
                                       headers=api_key_headers(cfg, "operator"))
                assert r.status_code == 405, r.text

            async def note_stored() -> Any:
                await gw.historian.flush()
                return await gw.historian.query("EM01", "Derived", "Note", limit=10)

            assert [r.value for r in await wait_for(note_stored, message="the note")] == ["tool change"]
            assert made[0].note_prop.value == "tool change"
            audit = gw.audit.path.read_text()
            assert "tool change" in audit and '"result": "ok"' in audit.replace('":"', '": "')
    finally:
        unregister_factory(factory)
