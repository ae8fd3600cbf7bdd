"""Submodels that publish detection and prediction: alarms, scrap prediction, IDTA 02048 Predictive Maintenance.

- `AnomalyDetection` (our semantics: no IDTA template covers alarms): the asset's anomaly score,
  detection status, number of active alarms, and one collection per alarm with a
  BasicEventElement (the AAS way to say "this element emits events", pointing at the alarm's
  State as its observed element and at the MQTT topic its messages go to) and the alarm's state as
  Properties: State (ISA-18.2 names), Active, Acknowledged (writable: an operator acknowledges by
  writing true), Cause, Message, Score, Severity and a reference to the watched Property.
- `QualityPrediction` (our semantics): scrap probability of the last cycle, rolling expected and
  observed scrap rates.
- `PredictiveMaintenance_<Component>` (IDTA 02048 1.0, one per monitored component, since the
  template has exactly one RemainingUsefulLifePrediction): idShorts and semanticIds as the
  template spells them (its `RemainingUsfulLifeDateTime` typo included: clients match on it),
  plus a `PredictionDetails` collection of our own for what the template lacks: the failure
  probability, the interval bounds as Properties (with history), the indicator and its trend.

The gateway's producer (gateway/detect) decides the values; this module only builds the elements
and names the paths, so both sides agree on one spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from basyx.aas import model

from aas_models import ids, live
from aas_models.builder import ext_ref, unit_qualifier

LANG = "en"
ANOMALY_SM = "AnomalyDetection"
QUALITY_SM = "QualityPrediction"
PDM_PREFIX = "PredictiveMaintenance_"
ALARMS = "Alarms"

# element idShorts of one alarm collection, with their xs types (Event is the BasicEventElement)
ALARM_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("State", "xs:string", "ISA-18.2 state: Normal, Unacknowledged, Acknowledged, ClearedUnacknowledged"),
    ("Active", "xs:boolean", "True while the condition is present"),
    ("Acknowledged", "xs:boolean", "Write true to acknowledge (role operator; audited)"),
    ("Cause", "xs:string", "What the detector found: spike, level, rate, drift, stuck, range, max_rate, "
                           "multivariate, scrap_rate, remaining_life"),
    ("Message", "xs:string", "Human-readable description of the last transition"),
    ("Score", "xs:double", "Anomaly score of what the alarm watches (1 = alarm limit), max over the score interval"),
)
ANOMALY_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("Status", "xs:string", "learning, monitoring, not operating or settling"),
    ("AnomalyScore", "xs:double", "Highest anomaly score of the asset over the score interval (1 = alarm limit)"),
    ("ActiveAlarms", "xs:int", "Alarms currently active"),
)
QUALITY_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("Status", "xs:string", "learning (fewer labelled cycles than needed) or predicting"),
    ("ScrapProbability", "xs:double", "Predicted probability that the last cycle's part is scrap"),
    ("ExpectedScrapRate", "xs:double", "Mean predicted scrap probability over the rolling window of cycles"),
    ("ObservedScrapRate", "xs:double", "Share of scrap among the labelled cycles of the rolling window"),
    ("CyclesLearned", "xs:long", "Labelled cycles the classifier has learned from"),
)
_RUL = "RemainingUsefulLifePrediction"
_ENTITY = f"{_RUL}.RemainingUsefulLifetime"
# (path inside the PdM submodel, xs type) of every value the producer publishes
PDM_VALUES: dict[str, tuple[str, str]] = {
    "DurationValue": (f"{_ENTITY}.DurationValue", "xs:double"),
    "StartDateTime": (f"{_ENTITY}.StartDateTime", "xs:dateTime"),
    "EndOfLife": (f"{_RUL}.RemainingUsfulLifeDateTime", "xs:dateTime"),
    "MaintenanceRequired": (f"{_RUL}.AlertAfterExceedingRemainingUsableLife.MaintenanceRequired", "xs:boolean"),
    "Status": ("PredictionDetails.Status", "xs:string"),
    "FailureProbability": ("PredictionDetails.FailureProbability", "xs:double"),
    "DurationLow": ("PredictionDetails.DurationLow", "xs:double"),
    "DurationHigh": ("PredictionDetails.DurationHigh", "xs:double"),
    "IndicatorValue": ("PredictionDetails.IndicatorValue", "xs:double"),
    "TrendRate": ("PredictionDetails.TrendRate", "xs:double"),
}
_DETAILS_TEXT = {
    "Status": "learning, no trend, predicting or limit reached",
    "FailureProbability": "Probability that the limit is reached within FailureHorizon operating seconds",
    "DurationLow": "Lower bound of the 95 % interval of the remaining operating time (s)",
    "DurationHigh": "Upper bound of the 95 % interval of the remaining operating time (s)",
    "IndicatorValue": "Fitted current value of the degradation indicator",
    "TrendRate": "Fitted slope of the indicator per operating second (of its logarithm for an exponential trend)",
}


def _text(s: str) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({LANG: s})


def _xs(value_type: str) -> type:
    return model.datatypes.XSD_TYPE_CLASSES[value_type]


def _prop(id_short: str, value_type: str, desc: str, sem: str, value: Any = None, unit: str | None = None,
          writable: bool = False) -> model.Property:
    qualifiers = [unit_qualifier(unit)] if unit else []
    if writable:
        qualifiers.append(model.Qualifier(live.Q_WRITABLE, model.datatypes.Boolean, True,
                                          kind=model.QualifierKind.CONCEPT_QUALIFIER,
                                          semantic_id=ext_ref(ids.QUALIFIER_WRITABLE)))
    prop = model.Property(id_short, _xs(value_type), value, description=_text(desc), semantic_id=ext_ref(sem),
                          qualifier=qualifiers)
    return prop


def _live(prop: model.Property) -> model.Property:
    live.attach(prop)
    return prop


@dataclass(frozen=True)
class AlarmModelSpec:
    name: str  # idShort of the alarm collection
    severity: int
    description: str
    watched: tuple[str, str] | None = None  # (submodel id, idShortPath) of the Property it watches


@dataclass(frozen=True)
class RulModelSpec:
    name: str  # component idShort; the submodel is PredictiveMaintenance_<name>
    indicator: str  # idShortPath of the degradation indicator
    limit: float
    unit: str | None
    model: str  # linear | exponential
    window_s: float
    horizon_s: float
    pre_alert_s: float | None


@dataclass
class DetectionModels:
    submodels: list[model.Submodel] = field(default_factory=list)
    properties: dict[tuple[str, str], model.Property] = field(default_factory=dict)  # (sm idShort, path) -> Property
    events: dict[str, model.BasicEventElement] = field(default_factory=dict)  # alarm name -> its event element
    intervals: dict[str, model.Range] = field(default_factory=dict)  # RUL component -> ConfidenceInterval


def _alarm_collection(aas_id: str, a: AlarmModelSpec, message_topic: str | None,
                      out: DetectionModels) -> model.SubmodelElementCollection:
    sm_id = ids.submodel_id(aas_id, ANOMALY_SM)
    elems: list[model.SubmodelElement] = []
    for id_short, vt, desc in ALARM_PROPERTIES:
        prop = _live(_prop(id_short, vt, desc, ids.ALARM_ELEMENT + id_short, writable=id_short == "Acknowledged"))
        out.properties[(ANOMALY_SM, f"{ALARMS}.{a.name}.{id_short}")] = prop
        elems.append(prop)
    elems.append(_prop("Severity", "xs:int", "1 (low) to 1000 (urgent), as in OPC UA alarms",
                       ids.ALARM_ELEMENT + "Severity", a.severity))
    if a.watched is not None:
        keys = [model.Key(model.KeyTypes.SUBMODEL, a.watched[0])]
        parts = a.watched[1].split(".")
        keys += [model.Key(model.KeyTypes.SUBMODEL_ELEMENT_COLLECTION, p) for p in parts[:-1]]
        keys.append(model.Key(model.KeyTypes.PROPERTY, parts[-1]))
        elems.append(model.ReferenceElement("Watches", model.ModelReference(tuple(keys), model.Property),
                                            description=_text("The Property this alarm watches"),
                                            semantic_id=ext_ref(ids.ALARM_ELEMENT + "Watches")))
    state_ref: model.ModelReference[Any] = model.ModelReference((
        model.Key(model.KeyTypes.SUBMODEL, sm_id),
        model.Key(model.KeyTypes.SUBMODEL_ELEMENT_COLLECTION, ALARMS),
        model.Key(model.KeyTypes.SUBMODEL_ELEMENT_COLLECTION, a.name),
        model.Key(model.KeyTypes.PROPERTY, "State")), model.Property)
    event = model.BasicEventElement(
        "Event", state_ref, model.Direction.OUTPUT, model.StateOfEvent.ON,
        message_topic=message_topic, last_update=None,
        description=_text("Emits a message on every transition of the alarm (raised, acknowledged, cleared); its "
                          "history is the alarm's event log"),
        semantic_id=ext_ref(ids.ALARM_ELEMENT + "Event"))
    elems.append(event)
    out.events[a.name] = event
    return model.SubmodelElementCollection(a.name, elems, description=_text(a.description),
                                           semantic_id=ext_ref(ids.ALARM))


def anomaly_submodel(aas_id: str, alarms: Sequence[AlarmModelSpec], message_topic: str | None,
                     out: DetectionModels) -> model.Submodel:
    elems: list[model.SubmodelElement] = []
    for id_short, vt, desc in ANOMALY_PROPERTIES:
        prop = _live(_prop(id_short, vt, desc, ids.ANOMALY_DETECTION_ELEMENT + id_short))
        out.properties[(ANOMALY_SM, id_short)] = prop
        elems.append(prop)
    elems.append(model.SubmodelElementCollection(
        ALARMS, [_alarm_collection(aas_id, a, message_topic, out) for a in alarms],
        description=_text("One collection per alarm"), semantic_id=ext_ref(ids.ANOMALY_DETECTION_ELEMENT + ALARMS)))
    sm = model.Submodel(ids.submodel_id(aas_id, ANOMALY_SM), id_short=ANOMALY_SM, submodel_element=elems,
                        description=_text("Online anomaly detection by the gateway: scores, alarms and their life "
                                          "cycle"), semantic_id=ext_ref(ids.ANOMALY_DETECTION))
    out.submodels.append(sm)
    return sm


def quality_submodel(aas_id: str, out: DetectionModels) -> model.Submodel:
    elems: list[model.SubmodelElement] = []
    for id_short, vt, desc in QUALITY_PROPERTIES:
        prop = _live(_prop(id_short, vt, desc, ids.QUALITY_PREDICTION_ELEMENT + id_short))
        out.properties[(QUALITY_SM, id_short)] = prop
        elems.append(prop)
    sm = model.Submodel(ids.submodel_id(aas_id, QUALITY_SM), id_short=QUALITY_SM, submodel_element=elems,
                        description=_text("Scrap prediction per production cycle by an online classifier that "
                                          "learns from the good and scrap counters"),
                        semantic_id=ext_ref(ids.QUALITY_PREDICTION))
    out.submodels.append(sm)
    return sm


def _pdm_prop(id_short: str, vt: str, desc: str, value: Any = None) -> model.Property:
    return _prop(id_short, vt, desc, ids.pdm(id_short), value)


def pdm_submodel(aas_id: str, r: RulModelSpec, out: DetectionModels) -> model.Submodel:
    """One IDTA 02048 submodel for one component; the Properties the producer updates go into `out`."""
    sm_short = PDM_PREFIX + r.name
    live_props: dict[str, model.Property] = {}

    def lp(key: str, id_short: str, desc: str, sem: str | None = None) -> model.Property:
        path, vt = PDM_VALUES[key]
        prop = _live(_prop(id_short, vt, desc, sem or ids.pdm(id_short)))
        live_props[key] = prop
        out.properties[(sm_short, path)] = prop
        return prop

    unit = r.unit or ""
    entity = model.Entity(
        "RemainingUsefulLifetime", model.EntityType.CO_MANAGED_ENTITY, statement=[
            _pdm_prop("IndicationType", "xs:string", "Type of wear-relevant duration", "operating time"),
            lp("DurationValue", "DurationValue", "Remaining operating time until the limit, in EngineeringUnit"),
            _pdm_prop("EngineeringUnit", "xs:string", "Wear relevant physical unit", "s"),
            _pdm_prop("StartValue", "xs:double", "Duration measured from this value", 0.0),
            lp("StartDateTime", "StartDateTime", "When this prediction was made: the duration counts from here"),
            _pdm_prop("Description", "xs:string", "Description of the wear duration information",
                      f"Operating seconds until {r.indicator} reaches {r.limit:g} {unit}".rstrip()),
        ], semantic_id=ext_ref(ids.pdm("RemainingUsefulLifetime")),
        description=_text(f"Remaining useful life of {r.name}"))
    interval = model.Range("ConfidenceInterval", model.datatypes.Double,
                           semantic_id=ext_ref(ids.pdm("ConfidenceInterval")),
                           description=_text("95 % interval of DurationValue (operating seconds)"))
    out.intervals[r.name] = interval
    condition = model.SubmodelElementCollection(None, [
        _pdm_prop("ConditionName", "xs:string", "Indicator the prediction is based on", r.indicator),
        _pdm_prop("IsBoundaryConditionUsedInModel", "xs:boolean", "Used in the model", True),
        _pdm_prop("BoundaryValueRange", "xs:double", "Limit of the indicator at end of life", float(r.limit)),
        _pdm_prop("BoundaryEngineeringUnit", "xs:string", "Unit of the indicator", unit or None),
        _pdm_prop("BoundaryDescription", "xs:string", "Description of the boundary condition",
                  f"{r.indicator} reaching {r.limit:g} {unit} ends the component's life".replace("  ", " ")),
    ], semantic_id=ext_ref(ids.pdm("RULCondition")))
    conditions = model.SubmodelElementList(
        "ListRULBoundaryConditions", model.SubmodelElementCollection, [condition],
        semantic_id_list_element=ext_ref(ids.pdm("RULCondition")),
        semantic_id=ext_ref(ids.pdm("ListRULBoundaryConditions")))
    model_info = model.SubmodelElementCollection("PredictionModelInformation", [
        _pdm_prop("ModelType", "xs:string", "physical, data-driven or hybrid", "data-driven"),
        _pdm_prop("ModelDescription", "xs:string", "The model used",
                  f"Least-squares {r.model} trend of {r.indicator} over the last {r.window_s:g} operating seconds, "
                  f"extrapolated to {r.limit:g}; 95 % interval from the slope's standard error"),
    ], semantic_id=ext_ref(ids.pdm("PredictionModelInformation")))
    rul_elems: list[model.SubmodelElement] = [
        entity,
        lp("EndOfLife", "RemainingUsfulLifeDateTime",
           "Predicted date of the end of life (now + remaining operating time / recent operating share)"),
        interval, conditions, model_info]
    if r.pre_alert_s is not None:
        rul_elems.append(model.SubmodelElementList("ListPreAlerts", model.SubmodelElementCollection, [
            model.SubmodelElementCollection(None, [
                _pdm_prop("PreAlertMessage", "xs:string", "Message of the pre-alert",
                          f"{r.name}: less than {r.pre_alert_s:g} s of operation left"),
                _pdm_prop("PreAlertValue", "xs:double", "Pre-warning duration (operating seconds)",
                          float(r.pre_alert_s)),
            ], semantic_id=ext_ref(ids.pdm("PreAlerts")))],
            semantic_id_list_element=ext_ref(ids.pdm("PreAlerts")), semantic_id=ext_ref(ids.pdm("ListPreAlerts"))))
    rul_elems.append(model.SubmodelElementCollection("AlertAfterExceedingRemainingUsableLife", [
        _pdm_prop("AlertMessage", "xs:string", "Message when the end of life is reached",
                  f"{r.name}: end of life reached, maintenance required"),
        lp("MaintenanceRequired", "MaintenanceRequired", "True once the limit is reached"),
    ], semantic_id=ext_ref(ids.pdm("AlertAfterExceedingRemainingUsableLife"))))
    details = [lp(key, key, _DETAILS_TEXT[key], ids.PDM_DETAILS_ELEMENT + key) for key in
               ("Status", "FailureProbability", "DurationLow", "DurationHigh", "IndicatorValue", "TrendRate")]
    details.append(_prop("FailureHorizon", "xs:double", "Horizon of FailureProbability (operating seconds)",
                         ids.PDM_DETAILS_ELEMENT + "FailureHorizon", float(r.horizon_s)))
    sm = model.Submodel(
        ids.submodel_id(aas_id, sm_short), id_short=sm_short, submodel_element=[
            model.SubmodelElementCollection(_RUL, rul_elems, semantic_id=ext_ref(ids.pdm(_RUL))),
            model.SubmodelElementCollection("PredictionDetails", details, semantic_id=ext_ref(ids.PDM_DETAILS),
                                            description=_text("What IDTA 02048 has no element for (gateway "
                                                              "semantics)"))],
        semantic_id=model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, ids.PDM_SUBMODEL),), model.Submodel),
        description=_text(f"IDTA 02048 Predictive Maintenance of {r.name}, predicted by the gateway"))
    out.submodels.append(sm)
    return sm


def event_message(aas_id: str, alarm: str, timestamp: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The AAS EventPayload of one alarm transition (AAS Part 2: source, observableReference, timeStamp ...),
    `payload` carried as a JSON object; the MQTT publisher adds the topic."""
    sm_id = ids.submodel_id(aas_id, ANOMALY_SM)
    keys = [{"type": "Submodel", "value": sm_id}, {"type": "SubmodelElementCollection", "value": ALARMS},
            {"type": "SubmodelElementCollection", "value": alarm}]
    return {
        "source": {"type": "ModelReference", "keys": [*keys, {"type": "BasicEventElement", "value": "Event"}]},
        "sourceSemanticId": {"type": "ExternalReference",
                             "keys": [{"type": "GlobalReference", "value": ids.ALARM_ELEMENT + "Event"}]},
        "observableReference": {"type": "ModelReference", "keys": [*keys, {"type": "Property", "value": "State"}]},
        "observableSemanticId": {"type": "ExternalReference",
                                 "keys": [{"type": "GlobalReference", "value": ids.ALARM_ELEMENT + "State"}]},
        "subjectId": None,
        "timeStamp": timestamp,
        "payload": payload,
    }
