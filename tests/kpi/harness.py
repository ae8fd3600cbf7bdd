"""A gateway without sources for KPI tests: the real pipeline, historian and KPI producer, and a fake clock.

Samples are published into the pipeline as a source would (historian first, then the live model's
place, then the producer), and the producer's `step` is driven at chosen clock times, so a shift
of eight hours runs in milliseconds and every number is known in advance.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sample import Sample
from gateway.app import HistorianSink, point_infos
from gateway.config import GatewayConfig, parse_config
from gateway.historian import Historian
from gateway.kpi.asset import AssetKpi
from gateway.kpi.calendar import to_ns
from gateway.kpi.producer import KpiProducer
from gateway.pipeline import Pipeline, PointInfo

SEOUL = ZoneInfo("Asia/Seoul")
DAY = (2026, 12, 7)  # a Monday


def T(h: int, m: int = 0, s: int = 0, day: tuple[int, int, int] = DAY) -> int:
    """Local (Asia/Seoul) time on the test day, as UTC ns."""
    return to_ns(datetime(*day, h, m, s, tzinfo=SEOUL))


STATE = "M1/OperationalData/Machine.State"
PRODUCED = "M1/OperationalData/Counters.Produced"
GOOD = "M1/OperationalData/Counters.Good"
SCRAP = "M1/OperationalData/Counters.Scrap"
ENERGY = "EM01/OperationalData/Energy.ActiveImport"


def kpi_block(**over: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "state": {"point": "Machine.State",
                  "map": {"Running": "production", "Setup": "setup", "Idle": "delay", "Alarm": "down",
                          "Off": "not_planned"}},
        "counters": {"produced": "Counters.Produced", "good": "Counters.Good", "scrap": "Counters.Scrap"},
        "ideal_cycle_time_s": 30,
        "energy": "EM01/OperationalData/Energy.ActiveImport",
        "calendar": {"timezone": "Asia/Seoul", "day_start": "06:00", "shifts": [
            {"name": "Early", "start": "06:00", "end": "14:00", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
             "breaks": [{"start": "10:00", "end": "10:30"}]},
            {"name": "Late", "start": "14:00", "end": "22:00", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"]}]},
        "update_interval_s": 10,
        "grace_s": 10,
    }
    block.update(over)
    return block


def config(tmp_path: Path, kpi: dict[str, Any] | None = None, counter_type: str = "xs:unsignedInt") -> GatewayConfig:
    src = {"type": "opcua", "endpoint": "opc.tcp://127.0.0.1:1/", "security": {"policy": "None", "mode": "None"}}
    return parse_config({
        "historian": {"path": str(tmp_path / "h.sqlite"), "commit_interval_ms": 5},
        "api": {"enabled": False},
        "assets": [
            {"id_short": "M1", "id": "urn:test:aas:M1", "global_asset_id": "urn:test:asset:M1", "source": src,
             "points": [{"node": "s=Machine.State", "path": "Machine.State", "type": "xs:string"},
                        {"node": "s=Counters.Produced", "path": "Counters.Produced", "type": counter_type},
                        {"node": "s=Counters.Good", "path": "Counters.Good", "type": counter_type},
                        {"node": "s=Counters.Scrap", "path": "Counters.Scrap", "type": counter_type}],
             "kpi": kpi if kpi is not None else kpi_block()},
            {"id_short": "EM01", "id": "urn:test:aas:EM01", "global_asset_id": "urn:test:asset:EM01", "source": src,
             "points": [{"node": "s=Energy.ActiveImport", "path": "Energy.ActiveImport", "type": "xs:double"}]},
        ]})


class Harness:
    """One gateway lifetime (a restart is a new Harness on the same historian file)."""

    def __init__(self, cfg: GatewayConfig, start: int) -> None:
        self.cfg = cfg
        self.now = start
        self.historian = Historian(cfg.historian)
        self.producer = KpiProducer(cfg, self.historian, clock=lambda: self.now)
        self.pipeline = Pipeline(point_infos(cfg))
        for dp in self.producer.points():
            self.pipeline.add_point(PointInfo(dp.point_id, dp.asset, dp.submodel, dp.path, dp.value_type, dp.unit))
        self.pipeline.add_consumer(HistorianSink(self.historian))
        self.pipeline.add_consumer(self.producer)

    @property
    def kpi(self) -> AssetKpi:
        return self.producer.assets[0].kpi

    async def open(self) -> Harness:
        await self.historian.open()
        for info in self.pipeline.points.values():
            await self.historian.register_series(info.point_id, info.value_type, info.unit)
        await self.producer.start(self.pipeline.publish)
        return self

    async def close(self) -> None:
        await self.historian.close()

    async def sample(self, point: str, value: Any, t: int, *, received: int | None = None, status: int = 0) -> None:
        """A reading with source time t, received at `received` (default t); the clock moves to it."""
        rcv = t if received is None else received
        self.now = max(self.now, rcv)
        await self.pipeline.publish([Sample(point, value, None if status else t, None, rcv, status)])

    async def run_until(self, t: int, every_s: int = 600) -> None:
        """Advance the clock to t, stepping the producer every `every_s` seconds as its loop would."""
        while self.now < t:
            self.now = min(t, self.now + every_s * 10**9)
            samples = self.producer.step(self.now)
            if samples:
                await self.pipeline.publish(samples)

    async def step(self) -> None:
        """One producer step at the current clock time."""
        samples = self.producer.step(self.now)
        if samples:
            await self.pipeline.publish(samples)

    async def write(self, path: str, value: Any) -> None:
        await self.producer.write(self.kpi.kpi_point(path), value, self.kpi.kpi_points[path].value_type)

    async def closed(self, group: str, start: int) -> dict[str, Any]:
        """The values published for the closed period of `group` (LastShift ...) that started at `start`."""
        await self.historian.flush()
        out: dict[str, Any] = {}
        for path, dp in self.kpi.kpi_points.items():
            if not path.startswith(group + "."):
                continue
            rows = await self.historian.query(dp.asset, dp.submodel, dp.path, start_ns=start, end_ns=start + 1)
            if rows:
                out[path.split(".", 1)[1]] = rows[-1].value
        return out
