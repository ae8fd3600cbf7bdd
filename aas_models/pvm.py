"""IDTA 02066 "Process Variables for Manufacturing KPIs" 1.0 (PVM): the submodel the KPI engine fills.

Follows the published template (admin-shell-io/submodel-templates, `published/Process Variables
for Manufacturing Key Performance Indicators/1/0`, CC BY 4.0): submodel idShort
`ProcessVariablesForManufacturingKPICalculation`, one collection per ISO 22400-2 process
variable with its ontology semanticId, each holding `key` (the ISO abbreviation), `currentValue`
(xs:duration for times, xs:decimal for quantities) and `comment` (the ISO definition). All 19
variables are optional (0..1); a gateway includes those it can compute. Two semanticIds differ
from their idShorts in the template and are kept as published: ActualUnitSetupTime ->
`#ActualSetupTime`, PlannedRuntimePerItem -> `#PlannedRuntimePerUnit`.

The template's comments are copied as the ISO 22400-2 definitions, except ScrapQuantity, whose
template comment is the definition of the order quantity (a slip in 1.0); ours is the ISO one.
The template's unit concept descriptions (pieces, kg, ...) are not in its published JSON, so
`currentValue` carries no supplementalSemanticId.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from basyx.aas import model

from aas_models import ids, live
from aas_models.builder import ext_ref


@dataclass(frozen=True)
class ProcessVariable:
    id_short: str
    key: str  # ISO 22400-2 abbreviation, the value of `key`
    concept: str  # class name in the ISO 22400-2 ontology (semanticId = ids.ISO22400 + concept)
    value_type: str  # of currentValue
    display_name: str
    definition: str

    @property
    def semantic_id(self) -> str:
        return ids.ISO22400 + self.concept


_D, _N = "xs:duration", "xs:decimal"
PROCESS_VARIABLES: tuple[ProcessVariable, ...] = (
    ProcessVariable("ActualPersonnelWorkTime", "APWT", "ActualPersonnelWorkTime", _D, "Actual Personnel Work Time",
                    "The actual personnel work time shall be the time that a worker needs for the execution of a "
                    "production order."),
    ProcessVariable("ActualUnitProcessingTime", "AUPT", "ActualUnitProcessingTime", _D, "Actual Unit Processing Time",
                    "The actual unit processing time shall be the actual production time plus the actual unit "
                    "setup time."),
    ProcessVariable("ActualUnitBusyTime", "AUBT", "ActualUnitBusyTime", _D, "Actual Unit Busy Time",
                    "The actual unit busy time shall be the actual time that a work unit is used for the execution "
                    "of a production order."),
    ProcessVariable("ActualOrderExecutionTime", "AOET", "ActualOrderExecutionTime", _D, "Actual Order Execution Time",
                    "The actual order execution time shall be the time difference between start time and end time "
                    "of a production order. It includes the actual busy time, the actual transport time and the "
                    "actual queuing time."),
    ProcessVariable("ActualPersonnelAttendanceTime", "APAT", "ActualPersonnelAttendanceTime", _D,
                    "Actual Personnel Attendance Time",
                    "The actual personnel attendance time shall be the actual time that a worker is available to "
                    "work on production orders. It does not include actual time for company authorized break "
                    "periods (e.g. lunch). It shall be the difference between login and logout excluding breaks."),
    ProcessVariable("ActualProductionTime", "APT", "ActualProductionTime", _D, "Actual Production Time",
                    "The actual production time shall be the actual time during which a work unit is producing. "
                    "It includes only the value-adding functions."),
    ProcessVariable("ActualQueuingTime", "AQT", "ActualQueuingTime", _D, "Actual Queuing Time",
                    "The actual queuing time shall be the actual time when the work unit is not executing order "
                    "production although its available."),
    ProcessVariable("ActualUnitDownTime", "ADOT", "ActualUnitDownTime", _D, "Actual Unit Down Time",
                    "The actual unit down time shall be the actual time when the work unit is not execution order "
                    "production although it is available."),
    ProcessVariable("ActualUnitDelayTime", "ADET", "ActualUnitDelayTime", _D, "Actual Unit Delay Time",
                    "The actual unit delay time shall be the actual time associated with malfunction-caused "
                    "interruptions, minor stoppages, and other unplanned time intervals that occur while tasks are "
                    "being completed that lead to unwanted extension of the order processing time."),
    ProcessVariable("ActualUnitSetupTime", "AUST", "ActualSetupTime", _D, "Actual Unit Setup Time",
                    "The actual unit setup time shall be the time consumed for the preparation of an order at a "
                    "work unit."),
    ProcessVariable("ActualTransportTime", "ATT", "ActualTransportTime", _D, "Actual Transport Time",
                    "The actual transport time shall be the actual time required for transport between work units."),
    ProcessVariable("GoodPart", "GP", "GoodPart", _N, "Good Part",
                    "A good part shall be the count of individual identifiable parts, e.g. by serialization, which "
                    "meets the quality requirements."),
    ProcessVariable("InspectedPart", "IP", "InspectedPart", _N, "Inspected Part",
                    "An inspected part shall be the count of individual identifiable parts, e.g., by serialization, "
                    "which was tested against the quality requirements."),
    ProcessVariable("ScrapQuantity", "SQ", "ScrapQuantity", _N, "Scrap Quantity",
                    "The scrap quantity shall be the produced quantity that did not meet quality requirements and "
                    "has to be scrapped or recycled."),
    ProcessVariable("GoodQuantity", "GQ", "GoodQuantity", _N, "Good Quantity",
                    "The good quantity shall be the produced quantity that meets quality requirements."),
    ProcessVariable("ReworkQuantity", "RQ", "ReworkQuantity", _N, "Rework Quantity",
                    "The rework quantity shall be the quantity that fails to meet the quantity requirements, but "
                    "where these requirements can be met by subsequent work."),
    ProcessVariable("ProducedQuantity", "PQ", "ProducedQuantity", _N, "Produced Quantity",
                    "The produced quantity shall be the quantity that a work unit has produced in relation to a "
                    "production order."),
    ProcessVariable("PlannedBusyTime", "PBT", "PlannedBusyTime", _D, "Planned Busy Time",
                    "The planned busy time shall be the planned operation time minus the planned downtime."),
    ProcessVariable("PlannedRuntimePerItem", "PRI", "PlannedRuntimePerUnit", _D, "Planned Runtime per Item",
                    "The planned run time per item shall be the planned time for producing one quantity unit."),
)
BY_ID_SHORT = {v.id_short: v for v in PROCESS_VARIABLES}


def _text(s: str) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({"en": s})


def build_pvm(aas_id: str, variables: Iterable[str],
              note: str | None = None) -> tuple[model.Submodel, dict[str, model.Property]]:
    """The PVM submodel with the named variables (template order); idShort -> its live `currentValue`."""
    wanted = set(variables)
    unknown = wanted - BY_ID_SHORT.keys()
    if unknown:
        raise ValueError(f"not IDTA 02066 process variables: {sorted(unknown)}")
    elements: list[model.SubmodelElement] = []
    props: dict[str, model.Property] = {}
    for v in PROCESS_VARIABLES:
        if v.id_short not in wanted:
            continue
        current = model.Property(
            "currentValue", model.datatypes.XSD_TYPE_CLASSES[v.value_type],
            display_name=model.MultiLanguageNameType({"en": "Current Value"}),
            description=_text("Current value of process variable."),
            semantic_id=ext_ref(ids.PVM_CURRENT_VALUE))
        live.attach(current)
        props[v.id_short] = current
        elements.append(model.SubmodelElementCollection(
            v.id_short,
            [
                model.Property("key", model.datatypes.String, v.key,
                               display_name=model.MultiLanguageNameType({"en": "Key"}),
                               description=_text("Identifier from ISO 22400-2:2014."),
                               semantic_id=ext_ref(ids.PVM_KEY)),
                current,
                model.MultiLanguageProperty("comment", _text(v.definition),
                                            display_name=model.MultiLanguageNameType({"en": "Comment"}),
                                            semantic_id=ext_ref(ids.PVM_COMMENT)),
            ],
            display_name=model.MultiLanguageNameType({"en": v.display_name}),
            semantic_id=ext_ref(v.semantic_id)))
    sm = model.Submodel(
        ids.submodel_id(aas_id, ids.PVM_ID_SHORT),
        submodel_element=elements,
        id_short=ids.PVM_ID_SHORT,
        display_name=model.MultiLanguageNameType({"en": "Process Variables For Manufacturing KPI Calculation"}),
        description=_text(note or "Process variables (ISO 22400-2) of this asset, computed by the gateway."),
        semantic_id=ext_ref(ids.PVM),
        administration=model.AdministrativeInformation(version="1", revision="0"))
    return sm, props
