"""One asset's KPI setup from the config: its engine inputs, calendar and derived points.

Shared by the live producer, the recompute (CLI, tests, benchmark) and the restart replay, so all
of them build the very same engine for an asset.
"""

from __future__ import annotations

from dataclasses import dataclass

from aas_models import ids
from aas_models.kpi import KPI_ID_SHORT, KpiElement, kpi_paths
from aas_models.pvm import BY_ID_SHORT
from connectors.sample import point_id
from gateway.config import AssetConfig, GatewayConfig
from gateway.derived import DerivedPoint
from gateway.kpi.calendar import ProductionCalendar
from gateway.kpi.config import KpiConfig, resolve_point
from gateway.kpi.counters import WRAP
from gateway.kpi.engine import AssetEngine, EngineInputs

# PVM process variables the engine computes (the personnel, transport, queuing and per-part
# identification variables need data a machine does not have)
PVM_VARIABLES = ("ActualUnitProcessingTime", "ActualUnitBusyTime", "ActualOrderExecutionTime",
                 "ActualProductionTime", "ActualUnitDownTime", "ActualUnitDelayTime", "ActualUnitSetupTime",
                 "ScrapQuantity", "GoodQuantity", "ReworkQuantity", "ProducedQuantity", "PlannedBusyTime",
                 "PlannedRuntimePerItem")


@dataclass
class AssetKpi:
    asset: str  # idShort
    aas_id: str
    cfg: KpiConfig
    calendar: ProductionCalendar
    inputs: EngineInputs
    moduli: dict[str, int | None]
    pvm_points: dict[str, DerivedPoint]  # PVM variable idShort -> its currentValue point
    kpi_points: dict[str, DerivedPoint]  # idShortPath in ProductionKPIs -> point
    kpi_elements: dict[str, KpiElement]

    def engine(self) -> AssetEngine:
        return AssetEngine(self.cfg, self.calendar, self.inputs, self.moduli)

    def kpi_point(self, path: str) -> str:
        return self.kpi_points[path].point_id

    def points(self) -> list[DerivedPoint]:
        return [*self.pvm_points.values(), *self.kpi_points.values()]


def asset_kpi(cfg: GatewayConfig, asset: AssetConfig) -> AssetKpi:
    kc = asset.kpi
    assert kc is not None
    a = asset.id_short
    types = {point_id(x.id_short, p.submodel, p.path): p.type for x in cfg.assets for p in x.points}

    def ref(r: str | None) -> str | None:
        return resolve_point(r, a) if r is not None else None

    kpi_points = {path: DerivedPoint(f"{a}/{KPI_ID_SHORT}/{path}", a, KPI_ID_SHORT, path, e.value_type, e.unit,
                                     e.semantic_id, writable=e.writable)
                  for path, e in kpi_paths()}
    elements = dict(kpi_paths())
    pvm_points = {}
    for v in PVM_VARIABLES:
        if v == "PlannedRuntimePerItem" and kc.ideal_cycle_time_s is None and kc.ideal_cycle_time_point is None:
            continue
        pv = BY_ID_SHORT[v]
        path = f"{v}.currentValue"
        pvm_points[v] = DerivedPoint(f"{a}/{ids.PVM_ID_SHORT}/{path}", a, ids.PVM_ID_SHORT, path, pv.value_type,
                                     None, ids.PVM_CURRENT_VALUE)
    state = ref(kc.state.item_state if kc.state.preset else kc.state.point)
    assert state is not None
    counters = {role: resolve_point(p, a) for role, p in kc.counters.points().items()}
    inputs = EngineInputs(
        state=state, machine_mode=ref(kc.state.operation_mode),
        operator_mode=kpi_points["OperatorInputs.OperationMode"].point_id,
        reason=kpi_points["OperatorInputs.DowntimeReason"].point_id,
        order_id=kpi_points["Order.OrderId"].point_id,
        planned_quantity=kpi_points["Order.PlannedQuantity"].point_id,
        restart=kpi_points["Engine.GatewayDownSince"].point_id,
        counters=counters, pru=ref(kc.ideal_cycle_time_point), energy=ref(kc.energy))
    moduli = {role: kc.counters.wrap or WRAP.get(types.get(pid, ""), None) for role, pid in counters.items()}
    return AssetKpi(a, asset.id, kc, ProductionCalendar.from_config(kc.calendar), inputs, moduli, pvm_points,
                    kpi_points, elements)


def asset_kpis(cfg: GatewayConfig) -> list[AssetKpi]:
    return [asset_kpi(cfg, a) for a in cfg.assets if a.kpi is not None]
