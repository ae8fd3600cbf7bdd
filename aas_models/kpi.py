"""The ProductionKPIs submodel: ISO 22400-2 KPIs per period, the order, and the operator's inputs.

No IDTA template defines computed KPIs, so the submodel and its collections carry the gateway's
own semanticIds (`urn:aas-gateway:semantics:...`); every KPI that the ISO 22400-2 ontology
(`http://www.w3id.org/hsu-aut/ISO22400-2#`, the one IDTA 02066 points into) names carries that
class as its semanticId, the rest (energy per good part, coverage, unknown time, order progress
and expected completion, period start/end/name) are documented here and carry ours.

Layout (each period collection has the same elements, see `PERIOD_ELEMENTS`):

    ProductionKPIs/
      CurrentShift/   live: the shift in progress so far (updated every few seconds)
      LastShift/      the last closed shift: written once when it closes (its history is the shift history)
      LastHour/       the last closed hour
      LastDay/        the last closed production day
      Order/          OrderId, PlannedQuantity (operator/MES inputs), ProducedQuantity, GoodQuantity,
                      Progress, ExpectedCompletion, ExecutionTime, Start
      OperatorInputs/ OperationMode (OPC 40001 MachineryOperationMode where the machine does not know it),
                      DowntimeReason
      Engine/         GatewayDownSince: the gateway was not running from this time until the sample's time
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from basyx.aas import model

from aas_models import ids
from aas_models.builder import add_element, container_for, ext_ref, point_element
from aas_models.spec import PointSpec

KPI_ID_SHORT = "ProductionKPIs"


@dataclass(frozen=True)
class KpiElement:
    id_short: str
    value_type: str
    unit: str | None
    concept: str | None  # ISO 22400-2 ontology class, or None: our own semanticId
    description: str
    writable: bool = False

    @property
    def semantic_id(self) -> str:
        return ids.ISO22400 + self.concept if self.concept else ids.KPI_ELEMENT + self.id_short


_R, _T, _Q = "xs:double", "xs:double", "xs:double"
PERIOD_ELEMENTS: tuple[KpiElement, ...] = (
    KpiElement("Name", "xs:string", None, None, "Shift name, hour or production day of the period"),
    KpiElement("PeriodStart", "xs:dateTime", None, None, "Start of the period (UTC)"),
    KpiElement("PeriodEnd", "xs:dateTime", None, None, "End of the period (UTC); for the current shift: so far"),
    KpiElement("Availability", _R, None, "Availability", "APT / PBT (fraction)"),
    KpiElement("Effectiveness", _R, None, "Effectiveness", "PRU x PQ / APT (fraction)"),
    KpiElement("QualityRatio", _R, None, "QualityRatio", "GQ / PQ (fraction)"),
    KpiElement("OEE", _R, None, "OverallEquipmentEffectiveness",
               "Availability x Effectiveness x Quality ratio (fraction)"),
    KpiElement("NEE", _R, None, "NetEquipmentEffectiveness", "AUPT / PBT x Effectiveness x Quality ratio"),
    KpiElement("UtilizationEfficiency", _R, None, "UtilizationEfficiency", "APT / AUBT"),
    KpiElement("AllocationEfficiency", _R, None, "AllocationEfficiency", "AUBT / PBT"),
    KpiElement("TechnicalEfficiency", _R, None, "TechnicalEfficiency", "APT / (APT + ADET)"),
    KpiElement("SetupRate", _R, None, "SetUpRate", "ASUT / AUPT"),
    KpiElement("ThroughputRate", _R, "1/h", "ThroughputRate", "PQ / AOET, parts per hour"),
    KpiElement("ScrapRatio", _R, None, "ScrapRatio", "SQ / PQ"),
    KpiElement("ReworkRatio", _R, None, "ReworkRatio", "RQ / PQ"),
    KpiElement("MTBF", _T, "s", "MeanOperationTimeBetweenFailures", "APT / number of down periods"),
    KpiElement("MTTR", _T, "s", "MeanTimeToRestoration", "ADOT / number of down periods"),
    KpiElement("DownPeriods", _Q, None, "FailureEvent", "Down periods in the period (failures)"),
    KpiElement("EnergyConsumption", _Q, "kWh", "ComprehensiveEnergyConsumption", "Energy used in the period"),
    KpiElement("EnergyPerGoodPart", _R, "kWh", None, "Energy used / GQ (kWh per good part)"),
    KpiElement("Coverage", _R, None, None, "1 - unknown time / PBT: share of planned busy time with a known state"),
    KpiElement("PlannedBusyTime", _T, "s", "PlannedBusyTime", "PBT: calendar planned time minus not-planned states"),
    KpiElement("ActualProductionTime", _T, "s", "ActualProductionTime", "APT"),
    KpiElement("ActualUnitSetupTime", _T, "s", "ActualSetupTime", "ASUT"),
    KpiElement("ActualUnitDelayTime", _T, "s", "ActualUnitDelayTime", "ADET"),
    KpiElement("ActualUnitDownTime", _T, "s", "ActualUnitDownTime", "ADOT"),
    KpiElement("UnknownTime", _T, "s", None, "Planned busy time with no known state (machine or gateway unreachable)"),
    KpiElement("ProducedQuantity", _Q, None, "ProducedQuantity", "PQ"),
    KpiElement("GoodQuantity", _Q, None, "GoodQuantity", "GQ"),
    KpiElement("ScrapQuantity", _Q, None, "ScrapQuantity", "SQ"),
    KpiElement("ReworkQuantity", _Q, None, "ReworkQuantity", "RQ"),
)

PERIODS = {  # collection idShort -> (our semanticId suffix, description)
    "CurrentShift": "The shift in progress, so far (updated every few seconds)",
    "LastShift": "The last closed shift (written once, when it closes)",
    "LastHour": "The last closed hour",
    "LastDay": "The last closed production day",
}

ORDER_ELEMENTS: tuple[KpiElement, ...] = (
    KpiElement("OrderId", "xs:string", None, "ProductionOrder", "Current production order (MES/operator input)",
               writable=True),
    KpiElement("PlannedQuantity", "xs:double", None, "OrderQuantity", "Planned good quantity of the order (input)",
               writable=True),
    KpiElement("Start", "xs:dateTime", None, None, "When the order was set"),
    KpiElement("ProducedQuantity", _Q, None, "ProducedQuantity", "PQ since the order started"),
    KpiElement("GoodQuantity", _Q, None, "GoodQuantity", "GQ since the order started"),
    KpiElement("Progress", _R, None, None, "GQ / planned quantity (fraction)"),
    KpiElement("ExpectedCompletion", "xs:dateTime", None, None,
               "Now + remaining quantity at the order's good-part rate so far"),
    KpiElement("ExecutionTime", _T, "s", "ActualOrderExecutionTime", "Time since the order started"),
)

INPUT_ELEMENTS: tuple[KpiElement, ...] = (
    KpiElement("OperationMode", "xs:string", None, None,
               "OPC 40001-1 MachineryOperationMode (None, Maintenance, Setup, Processing) where the machine "
               "does not know it (operator input)", writable=True),
    KpiElement("DowntimeReason", "xs:string", None, None,
               "Reason code of the current down time (operator input; empty clears it)", writable=True),
)

ENGINE_ELEMENTS: tuple[KpiElement, ...] = (
    KpiElement("GatewayDownSince", "xs:dateTime", None, None,
               "The gateway was not running from this time until this value's timestamp (unknown time)"),
)

GROUPS: dict[str, tuple[KpiElement, ...]] = {
    **dict.fromkeys(PERIODS, PERIOD_ELEMENTS),
    "Order": ORDER_ELEMENTS,
    "OperatorInputs": INPUT_ELEMENTS,
    "Engine": ENGINE_ELEMENTS,
}


def kpi_paths() -> list[tuple[str, KpiElement]]:
    """(idShortPath, element) of every Property of the submodel."""
    return [(f"{group}.{e.id_short}", e) for group, elements in GROUPS.items() for e in elements]


def build_kpi_submodel(aas_id: str, asset: str,
                       paths: Sequence[tuple[str, KpiElement]]) -> tuple[model.Submodel, dict[str, model.Property]]:
    """The ProductionKPIs submodel with the given Properties; idShortPath -> live Property."""
    sm = model.Submodel(
        ids.submodel_id(aas_id, KPI_ID_SHORT),
        id_short=KPI_ID_SHORT,
        description=model.MultiLanguageTextType({"en": f"ISO 22400-2 KPIs of {asset}, computed by the gateway"}),
        semantic_id=ext_ref(ids.KPI_SUBMODEL))
    props: dict[str, model.Property] = {}
    for path, e in paths:
        group, leaf = path.split(".", 1)
        spec = PointSpec(f"{asset}/{KPI_ID_SHORT}/{path}", KPI_ID_SHORT, path, e.value_type, e.unit,
                         e.semantic_id, e.description, e.writable)
        parent = container_for(sm, group, spec)
        if parent.semantic_id is None:
            parent.semantic_id = ext_ref(ids.KPI_ELEMENT + group)
        prop = point_element(spec, leaf)
        assert isinstance(prop, model.Property)  # KPI elements are scalar xs: types
        add_element(parent, prop)
        props[path] = prop
    return sm, props
