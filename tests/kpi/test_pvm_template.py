"""The PVM submodel matches IDTA 02066 1.0 element by element, and the KPI model passes aas-test-engines.

TEMPLATE below is the element list of the published template, transcribed from
admin-shell-io/submodel-templates, `published/Process Variables for Manufacturing Key Performance
Indicators/1/0/IDTA 02066_Template_PVM.json` (IDTA, April 2026, CC BY 4.0): per process variable its
idShort, the semanticId of its collection, the value of `key` and the valueType of `currentValue`.
It is written out here rather than imported from aas_models, so that a slip in the implementation
cannot agree with itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import json as aas_json

from aas_models import live
from aas_models.pvm import build_pvm
from connectors.sample import now_ns
from gateway.kpi.producer import KpiProducer
from tests.kpi.harness import config

ISO = "http://www.w3id.org/hsu-aut/ISO22400-2#"
SUBMODEL_ID_SHORT = "ProcessVariablesForManufacturingKPICalculation"
SUBMODEL_SEMANTIC_ID = "https://admin-shell.io/idta/SubmodelTemplate/ProcessVariablesForManufacturingKPICalculation/1/0"
KEY = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/key/1/0"
CURRENT_VALUE = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/currentValue/1/0"
COMMENT = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/comment/1/0"
TEMPLATE = [  # (idShort, semanticId, key, currentValue valueType), in template order
    ("ActualPersonnelWorkTime", ISO + "ActualPersonnelWorkTime", "APWT", "xs:duration"),
    ("ActualUnitProcessingTime", ISO + "ActualUnitProcessingTime", "AUPT", "xs:duration"),
    ("ActualUnitBusyTime", ISO + "ActualUnitBusyTime", "AUBT", "xs:duration"),
    ("ActualOrderExecutionTime", ISO + "ActualOrderExecutionTime", "AOET", "xs:duration"),
    ("ActualPersonnelAttendanceTime", ISO + "ActualPersonnelAttendanceTime", "APAT", "xs:duration"),
    ("ActualProductionTime", ISO + "ActualProductionTime", "APT", "xs:duration"),
    ("ActualQueuingTime", ISO + "ActualQueuingTime", "AQT", "xs:duration"),
    ("ActualUnitDownTime", ISO + "ActualUnitDownTime", "ADOT", "xs:duration"),
    ("ActualUnitDelayTime", ISO + "ActualUnitDelayTime", "ADET", "xs:duration"),
    ("ActualUnitSetupTime", ISO + "ActualSetupTime", "AUST", "xs:duration"),
    ("ActualTransportTime", ISO + "ActualTransportTime", "ATT", "xs:duration"),
    ("GoodPart", ISO + "GoodPart", "GP", "xs:decimal"),
    ("InspectedPart", ISO + "InspectedPart", "IP", "xs:decimal"),
    ("ScrapQuantity", ISO + "ScrapQuantity", "SQ", "xs:decimal"),
    ("GoodQuantity", ISO + "GoodQuantity", "GQ", "xs:decimal"),
    ("ReworkQuantity", ISO + "ReworkQuantity", "RQ", "xs:decimal"),
    ("ProducedQuantity", ISO + "ProducedQuantity", "PQ", "xs:decimal"),
    ("PlannedBusyTime", ISO + "PlannedBusyTime", "PBT", "xs:duration"),
    ("PlannedRuntimePerItem", ISO + "PlannedRuntimePerUnit", "PRI", "xs:duration"),
]


def _sem(x: Any) -> str:
    return x.semantic_id.key[0].value


def _check_template(sm: model.Submodel, subset: set[str] | None = None) -> None:
    assert sm.id_short == SUBMODEL_ID_SHORT
    assert _sem(sm) == SUBMODEL_SEMANTIC_ID
    expected = [t for t in TEMPLATE if subset is None or t[0] in subset]
    elements = list(sm.submodel_element)
    assert [e.id_short for e in elements] == [t[0] for t in expected]  # template order, nothing extra
    for smc, (id_short, sem, key, vt) in zip(elements, expected, strict=True):
        assert isinstance(smc, model.SubmodelElementCollection), id_short
        assert _sem(smc) == sem, id_short
        children = {c.id_short: c for c in smc.value}
        assert set(children) == {"key", "currentValue", "comment"}, id_short  # the three fixed elements
        assert isinstance(children["key"], model.Property) and children["key"].value == key
        assert _sem(children["key"]) == KEY
        cv = children["currentValue"]
        assert isinstance(cv, model.Property) and _sem(cv) == CURRENT_VALUE
        assert model.datatypes.XSD_TYPE_NAMES[cv.value_type] == vt, id_short
        assert isinstance(children["comment"], model.MultiLanguageProperty) and _sem(children["comment"]) == COMMENT
        assert children["comment"].value and children["comment"].value["en"]


def test_all_19_process_variables_follow_the_template() -> None:
    sm, props = build_pvm("urn:test:aas:M1", [t[0] for t in TEMPLATE])
    _check_template(sm)
    assert set(props) == {t[0] for t in TEMPLATE}


def test_the_gateways_pvm_is_the_template_subset_it_can_compute(tmp_path: Path) -> None:
    producer = KpiProducer(config(tmp_path), historian=None)  # type: ignore[arg-type]  # models need no historian
    (m,) = producer.models()
    pvm = next(sm for sm in m.submodels if sm.id_short == SUBMODEL_ID_SHORT)
    names = {e.id_short for e in pvm.submodel_element}
    assert names == {"ActualUnitProcessingTime", "ActualUnitBusyTime", "ActualOrderExecutionTime",
                     "ActualProductionTime", "ActualUnitDownTime", "ActualUnitDelayTime", "ActualUnitSetupTime",
                     "ScrapQuantity", "GoodQuantity", "ReworkQuantity", "ProducedQuantity", "PlannedBusyTime",
                     "PlannedRuntimePerItem"}
    _check_template(pvm, names)


def test_pvm_and_kpi_submodels_pass_aas_test_engines(tmp_path: Path) -> None:
    producer = KpiProducer(config(tmp_path), historian=None)  # type: ignore[arg-type]
    (m,) = producer.models()
    # live values of every kind: durations, decimals, ratios, a bad one, strings and times
    for pid, prop in m.properties.items():
        vt = model.datatypes.XSD_TYPE_NAMES[prop.value_type]
        value = {"xs:duration": "PT7H25M30S", "xs:decimal": 850, "xs:double": 0.853, "xs:string": "2026-12-07 Early",
                 "xs:dateTime": "2026-12-06T21:00:00Z"}[vt]
        live.set_live_value(prop, value, now_ns(), 0x809B0000 if pid.endswith("MTBF") else 0)
    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="urn:test:asset:M1"), "urn:test:aas:M1",
        id_short="M1", submodel={model.ModelReference.from_referable(sm) for sm in m.submodels})
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore([shell, *m.submodels])
    path = tmp_path / "kpi.json"
    with path.open("w", encoding="utf-8") as f:
        aas_json.write_aas_json_file(f, store)
    doc = json.loads(path.read_text())
    pvm = next(s for s in doc["submodels"] if s["idShort"] == SUBMODEL_ID_SHORT)
    apt = next(e for e in pvm["submodelElements"] if e["idShort"] == "ActualProductionTime")
    assert {"idShort": "currentValue", "value": "PT7H25M30S"}.items() <= next(
        c for c in apt["value"] if c["idShort"] == "currentValue").items()
    r = subprocess.run([sys.executable, "-m", "aas_test_engines", "check_file", str(path), "--format", "json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
