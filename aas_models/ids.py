"""Identifiers and semantic ids used by the models the gateway builds.

Submodel ids are derived from the AAS id so that they stay stable across
restarts and config reloads without being stored anywhere: a client that
bookmarked a submodel URL keeps working as long as the asset id is unchanged.
Semantic ids are collected here so the builder, the API and the tests agree
on one spelling.
"""

from __future__ import annotations

import sys


def submodel_id(aas_id: str, id_short: str) -> str:
    """Stable id of the submodel `id_short` of the shell `aas_id`.

    `https://x/aas/M1` -> `https://x/aas/M1/submodels/<idShort>`;
    `urn:a:b` -> `urn:a:b:submodels:<idShort>` (a URN has no path, so ':' separates).
    """
    if not aas_id:
        raise ValueError("AAS id must not be empty")
    # interned: the id of a point's submodel is built per point in several start-up maps (~2.6 MB at 10,000 points)
    if aas_id[:4].lower() == "urn:":
        return sys.intern(f"{aas_id.rstrip(':')}:submodels:{id_short}")
    return sys.intern(f"{aas_id.rstrip('/')}/submodels/{id_short}")


# --- our own semantic ids (no IDTA template exists for these, see digest section 4) ---
# URNs in the gateway's own namespace: they need no domain and are never dereferenced.
_GW = "urn:aas-gateway:semantics"
OPERATIONAL_DATA = f"{_GW}:submodel:OperationalData:1:0"
GATEWAY_STATUS = f"{_GW}:submodel:GatewayStatus:1:0"
GATEWAY_STATUS_ELEMENT = f"{_GW}:GatewayStatus:1:0:"  # + element idShort
QUALIFIER_UNIT = f"{_GW}:qualifier:Unit:1:0"
QUALIFIER_WRITABLE = f"{_GW}:qualifier:Writable:1:0"
QUALIFIER_SOURCE_TIMESTAMP = f"{_GW}:qualifier:SourceTimestamp:1:0"
QUALIFIER_STATUS_CODE = f"{_GW}:qualifier:StatusCode:1:0"
QUALIFIER_QUALITY = f"{_GW}:qualifier:Quality:1:0"

# --- IDTA 02006-3-0 Digital Nameplate ---
NAMEPLATE = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
NAMEPLATE_URI_OF_THE_PRODUCT = "0112/2///61987#ABN590#002"
NAMEPLATE_MANUFACTURER_NAME = "0112/2///61987#ABA565#009"
NAMEPLATE_MANUFACTURER_PRODUCT_DESIGNATION = "0112/2///61987#ABA567#009"
NAMEPLATE_ORDER_CODE = "0112/2///61987#ABA950#008"
NAMEPLATE_SERIAL_NUMBER = "0112/2///61987#ABA951#009"
NAMEPLATE_YEAR_OF_CONSTRUCTION = "0112/2///61987#ABP000#002"
NAMEPLATE_DATE_OF_MANUFACTURE = "0112/2///61987#ABB757#007"
NAMEPLATE_HARDWARE_VERSION = "0112/2///61987#ABA926#008"
NAMEPLATE_FIRMWARE_VERSION = "0112/2///61987#ABA302#006"
NAMEPLATE_SOFTWARE_VERSION = "0112/2///61987#ABA601#008"
NAMEPLATE_COUNTRY_OF_ORIGIN = "0112/2///61987#ABP462#001"
NAMEPLATE_ADDRESS_INFORMATION = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"
ADDRESS_STREET = "0173-1#02-AAO128#002"
ADDRESS_ZIPCODE = "0173-1#02-AAO129#002"
ADDRESS_CITY_TOWN = "0173-1#02-AAO132#002"
ADDRESS_NATIONAL_CODE = "0173-1#02-AAO134#002"

# --- IDTA 02008-1-1 Time Series Data ---
_TS = "https://admin-shell.io/idta/TimeSeries"
TIME_SERIES = f"{_TS}/1/1"
TS_METADATA = f"{_TS}/Metadata/1/1"
TS_METADATA_NAME = f"{_TS}/Metadata/Name/1/1"
TS_METADATA_DESCRIPTION = f"{_TS}/Metadata/Description/1/1"
TS_RECORD = f"{_TS}/Record/1/1"
TS_RECORDS = f"{_TS}/Records/1/1"
TS_SEGMENTS = f"{_TS}/Segments/1/1"
TS_LINKED_SEGMENT = f"{_TS}/Segments/LinkedSegment/1/1"
TS_ENDPOINT = f"{_TS}/Endpoint/1/1"
TS_QUERY = f"{_TS}/Query/1/1"
TS_SEGMENT_NAME = f"{_TS}/Segment/Name/1/1"
TS_SEGMENT_DESCRIPTION = f"{_TS}/Segment/Description/1/1"
TS_SEGMENT_STATE = f"{_TS}/Segment/State/1/1"
TS_SEGMENT_STATE_IN_PROGRESS = f"{_TS}/Segment/State/InProgress/1/1"
TS_SEGMENT_START_TIME = f"{_TS}/Segment/StartTime/1/1"
# the template JSON has a trailing space after this one (digest section 2); we emit it without
TS_SEGMENT_END_TIME = f"{_TS}/Segment/EndTime/1/1"
TS_UTC_TIME = f"{_TS}/UtcTime/1/1"
TS_READ_RECORDS = f"{_TS}/ReadRecords/1/1"
TS_TIMESPAN = f"{_TS}/Timespan/1/1"
TS_AGGREGATION_METHOD = f"{_TS}/AggregationMethod/1/1"

# --- IDTA 02066-1-0 Process Variables for Manufacturing KPIs (PVM) ---
# The published template's own semanticId is a ModelReference to itself (a template); its spec
# (Table 2) gives the instance's as the IRI, which is what an instance carries: an ExternalReference.
PVM = "https://admin-shell.io/idta/SubmodelTemplate/ProcessVariablesForManufacturingKPICalculation/1/0"
PVM_ID_SHORT = "ProcessVariablesForManufacturingKPICalculation"
PVM_KEY = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/key/1/0"
PVM_CURRENT_VALUE = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/currentValue/1/0"
PVM_COMMENT = "https://admin-shell.io/idta/ProcessVariablesForManufacturingKPICalculation/comment/1/0"
ISO22400 = "http://www.w3id.org/hsu-aut/ISO22400-2#"  # + class name in the ISO 22400-2 ontology

# --- our KPI submodel (no IDTA template computes KPIs; ISO 22400-2 semantic ids where the ontology has them) ---
KPI_SUBMODEL = f"{_GW}:submodel:ProductionKPIs:1:0"
KPI_ELEMENT = f"{_GW}:ProductionKPIs:1:0:"  # + element idShort, where ISO 22400-2 has no class
# the gateway's own operation ledger (gateway/ops/ledger.py), on the gateway's own shell
OPERATION_RATE = f"{_GW}:submodel:OperationRate:1:0"
OPERATION_RATE_ELEMENT = f"{_GW}:OperationRate:1:0:"  # + element idShort

# --- detection and prediction (gateway/detect): our own, no IDTA template covers alarms or scrap prediction ---
ANOMALY_DETECTION = f"{_GW}:submodel:AnomalyDetection:1:0"
ANOMALY_DETECTION_ELEMENT = f"{_GW}:AnomalyDetection:1:0:"  # + element idShort
ALARM = f"{_GW}:AnomalyDetection:1:0:Alarm"
ALARM_ELEMENT = f"{_GW}:AnomalyDetection:1:0:Alarm:"  # + element idShort
QUALITY_PREDICTION = f"{_GW}:submodel:QualityPrediction:1:0"
QUALITY_PREDICTION_ELEMENT = f"{_GW}:QualityPrediction:1:0:"  # + element idShort
PDM_DETAILS = f"{_GW}:PredictiveMaintenance:PredictionDetails:1:0"
PDM_DETAILS_ELEMENT = f"{_GW}:PredictiveMaintenance:PredictionDetails:1:0:"  # + element idShort

# --- IDTA 02048-1-0 Predictive Maintenance (template JSON, published/Predictive Maintenance/1/0) ---
PDM_SUBMODEL = "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0"
_PDM = "https://admin-shell.io/idta/PredictiveMaintenance"


def pdm(id_short: str) -> str:
    """Semantic id of an IDTA 02048 element: the template's own spelling (RemainingUsfulLifeDateTime included)."""
    return f"{_PDM}/{id_short}/1/0"
