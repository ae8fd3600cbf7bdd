"""Building one asset's shell and submodels from its AssetSpec.

The gateway's configuration is the single source of the model: every restart
builds the same ids, idShorts and semantic ids from the same config, so
clients can bookmark paths. Per asset we build the Digital Nameplate (IDTA
02006-3-0), one operational-data submodel per configured target submodel,
the IDTA 02008 Time Series submodel pointing at the gateway's history, and a
GatewayStatus submodel describing the connection to the machine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from basyx.aas import model

from aas_models import elements, ids, lazy, live
from aas_models.datatypes import NUMERIC_TYPES, canonical_value_type, parse_point_type
from aas_models.idshort import check_id_short
from aas_models.spec import AssetSpec, PointSpec
from connectors.sample import ns_to_datetime

LANG = "en"
HISTORY_PLACEHOLDER = "urn:aas-gateway:history:not-configured"


def ext_ref(iri: str) -> model.ExternalReference:
    """ExternalReference with one GlobalReference key: the form of every semanticId we write."""
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _text(s: str) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({LANG: s})


xs_class = elements.xs_class


# --------------------------------------------------------------------------------------------- status


@dataclass
class StatusSubmodel:
    """Handle to the GatewayStatus submodel; `update` sets its Properties in place."""

    submodel: model.Submodel
    props: dict[str, model.Property]

    def update(
        self,
        state: str,
        state_since_ns: int | None,
        last_sample_ns: int | None,
        bad_points: int,
        connects: int,
        last_error: str | None,
    ) -> None:
        p = self.props
        p["ConnectionState"].value = state
        p["StateSince"].value = None if state_since_ns is None else ns_to_datetime(state_since_ns)
        p["LastSampleTime"].value = None if last_sample_ns is None else ns_to_datetime(last_sample_ns)
        p["BadPoints"].value = bad_points
        p["Connects"].value = connects
        p["LastError"].value = last_error

    def update_storage(self, committed: int, dead_lettered: int, lost: int, last_refusal: str | None) -> None:
        """What the historian made of this asset's samples since the gateway started."""
        p = self.props
        p["SamplesCommitted"].value = committed
        p["SamplesDeadLettered"].value = dead_lettered
        p["SamplesLost"].value = lost
        p["LastRefusal"].value = last_refusal


_STATUS_ELEMENTS: tuple[tuple[str, type, str], ...] = (
    ("Endpoint", model.datatypes.String, "Address of the data source (e.g. opc.tcp://host:4840/)"),
    ("Protocol", model.datatypes.String, "Protocol of the data source (e.g. opcua)"),
    ("ConnectionState", model.datatypes.String, "connecting, connected, disconnected, ..."),
    ("StateSince", model.datatypes.DateTime, "UTC time the connection state last changed"),
    ("LastSampleTime", model.datatypes.DateTime, "UTC time of the last sample received"),
    ("BadPoints", model.datatypes.Int, "Points whose latest sample has a bad status"),
    ("Points", model.datatypes.Int, "Points configured for this asset"),
    ("Connects", model.datatypes.Int, "Successful connects since the gateway started"),
    ("LastError", model.datatypes.String, "Last connection or read error, if any"),
    ("SamplesCommitted", model.datatypes.Long, "Samples of this asset committed to the historian since start"),
    ("SamplesDeadLettered", model.datatypes.Long,
     "Samples of this asset the historian refused since start; each is in its dead-letter table with the reason"),
    ("SamplesLost", model.datatypes.Long,
     "Samples of this asset neither stored nor dead-lettered since start (the log says which and why)"),
    ("LastRefusal", model.datatypes.String, "Why the historian last refused a sample of this asset, if it did"),
)


def _build_status(spec: AssetSpec) -> StatusSubmodel:
    props: dict[str, model.Property] = {}
    for id_short, vt, desc in _STATUS_ELEMENTS:
        props[id_short] = model.Property(
            id_short,
            vt,
            description=_text(desc),
            semantic_id=ext_ref(ids.GATEWAY_STATUS_ELEMENT + id_short),
        )
    props["Endpoint"].value = spec.endpoint or None
    props["Protocol"].value = spec.protocol or None
    props["ConnectionState"].value = "unknown"
    props["BadPoints"].value = 0
    props["Points"].value = len(spec.points)
    props["Connects"].value = 0
    props["SamplesCommitted"].value = 0
    props["SamplesDeadLettered"].value = 0
    props["SamplesLost"].value = 0
    sm = model.Submodel(
        ids.submodel_id(spec.id, "GatewayStatus"),
        submodel_element=props.values(),
        id_short="GatewayStatus",
        description=_text("State of the gateway's connection to this asset"),
        semantic_id=ext_ref(ids.GATEWAY_STATUS),
    )
    return StatusSubmodel(sm, props)


# ------------------------------------------------------------------------------------------ nameplate


def _mlp(id_short: str, sem: str, text: str) -> model.MultiLanguageProperty:
    return model.MultiLanguageProperty(id_short, value=_text(text), semantic_id=ext_ref(sem))


def _nameplate(spec: AssetSpec) -> model.Submodel | None:
    np = spec.nameplate
    if not np:
        return None
    elems: list[model.SubmodelElement] = []

    def get(key: str) -> str | None:
        v = np.get(key)
        return None if v is None or v == "" else str(v)

    # element order follows the template
    if (v := get("uri_of_the_product")) is not None:
        elems.append(
            model.Property(
                "URIOfTheProduct", model.datatypes.AnyURI, v, semantic_id=ext_ref(ids.NAMEPLATE_URI_OF_THE_PRODUCT)
            )
        )
    if (v := get("manufacturer_name")) is not None:
        elems.append(_mlp("ManufacturerName", ids.NAMEPLATE_MANUFACTURER_NAME, v))
    if (v := get("manufacturer_product_designation")) is not None:
        elems.append(_mlp("ManufacturerProductDesignation", ids.NAMEPLATE_MANUFACTURER_PRODUCT_DESIGNATION, v))
    address = np.get("address")
    if isinstance(address, dict):
        parts = [
            ("Street", ids.ADDRESS_STREET, address.get("street")),
            ("Zipcode", ids.ADDRESS_ZIPCODE, address.get("zipcode")),
            ("CityTown", ids.ADDRESS_CITY_TOWN, address.get("city_town")),
            ("NationalCode", ids.ADDRESS_NATIONAL_CODE, address.get("national_code")),
        ]
        children = [_mlp(n, s, str(t)) for n, s, t in parts if t not in (None, "")]
        if children:
            elems.append(
                model.SubmodelElementCollection(
                    "AddressInformation", children, semantic_id=ext_ref(ids.NAMEPLATE_ADDRESS_INFORMATION)
                )
            )
    plain: tuple[tuple[str, str, str], ...] = (
        ("order_code", "OrderCodeOfManufacturer", ids.NAMEPLATE_ORDER_CODE),
        ("serial_number", "SerialNumber", ids.NAMEPLATE_SERIAL_NUMBER),
        ("year_of_construction", "YearOfConstruction", ids.NAMEPLATE_YEAR_OF_CONSTRUCTION),
    )
    for key, id_short, sem in plain:
        if (v := get(key)) is not None:
            elems.append(model.Property(id_short, model.datatypes.String, v, semantic_id=ext_ref(sem)))
    if (v := get("date_of_manufacture")) is not None:
        try:
            date = model.datatypes.from_xsd(v, model.datatypes.Date)
        except ValueError as e:
            raise ValueError(f"asset {spec.id_short}: nameplate date_of_manufacture {v!r} is not YYYY-MM-DD") from e
        elems.append(
            model.Property(
                "DateOfManufacture", model.datatypes.Date, date, semantic_id=ext_ref(ids.NAMEPLATE_DATE_OF_MANUFACTURE)
            )
        )
    more: tuple[tuple[str, str, str], ...] = (
        ("hardware_version", "HardwareVersion", ids.NAMEPLATE_HARDWARE_VERSION),
        ("firmware_version", "FirmwareVersion", ids.NAMEPLATE_FIRMWARE_VERSION),
        ("software_version", "SoftwareVersion", ids.NAMEPLATE_SOFTWARE_VERSION),
        ("country_of_origin", "CountryOfOrigin", ids.NAMEPLATE_COUNTRY_OF_ORIGIN),
    )
    for key, id_short, sem in more:
        if (v := get(key)) is not None:
            elems.append(model.Property(id_short, model.datatypes.String, v, semantic_id=ext_ref(sem)))
    return model.Submodel(
        ids.submodel_id(spec.id, "Nameplate"),
        submodel_element=elems,
        id_short="Nameplate",
        semantic_id=ext_ref(ids.NAMEPLATE),
    )


# ---------------------------------------------------------------------------------- operational data


def unit_qualifier(unit: str) -> model.Qualifier:
    """The unit of a point, as a ConceptQualifier (on the live Property and on its TimeSeries variable)."""
    return model.Qualifier(live.Q_UNIT, model.datatypes.String, unit, kind=model.QualifierKind.CONCEPT_QUALIFIER,
                           semantic_id=ext_ref(ids.QUALIFIER_UNIT))


def point_element(point: PointSpec, id_short: str) -> model.SubmodelElement:
    """The element of one point, named `id_short` (the last segment of its idShortPath).

    Its kind follows the point's type (a Property, or a list, collection or multi-language property:
    see `aas_models.elements`); it carries the static qualifiers (Unit, Writable) and the live ones
    (SourceTimestamp, StatusCode, Quality), attached so the pipeline can set values at once.
    """
    qualifiers = []
    if point.unit:
        qualifiers.append(unit_qualifier(point.unit))
    if point.writable:
        qualifiers.append(
            model.Qualifier(
                live.Q_WRITABLE,
                model.datatypes.Boolean,
                True,
                kind=model.QualifierKind.CONCEPT_QUALIFIER,
                semantic_id=ext_ref(ids.QUALIFIER_WRITABLE),
            )
        )
    element = elements.new_element(
        id_short,
        parse_point_type(point.value_type),
        description=_text(point.description) if point.description else None,
        semantic_id=ext_ref(point.semantic_id) if point.semantic_id else None,
        qualifier=qualifiers,
    )
    live.attach(element)
    return element


def container_for(
    parent: model.Submodel | model.SubmodelElementCollection, segment: str, point: PointSpec
) -> model.SubmodelElementCollection:
    """The collection `segment` of an idShortPath under `parent`, created (empty) if missing.

    Raises ValueError when `segment` is already a point (a Property, or a structure point's
    collection, which its values fill): `point` is named in the message. Used by every builder
    that places elements by idShortPath (the operational data here, the KPI submodel in `aas_models.kpi`).
    """
    try:
        existing = parent.get_referable(segment)
    except KeyError:
        smc = model.SubmodelElementCollection(segment)
        add_element(parent, smc)
        return smc
    if not isinstance(existing, model.SubmodelElementCollection) or hasattr(existing, "_point_type"):
        # a structure point's collection is filled from its values: no other point may live in it
        raise ValueError(f"point {point.point_id}: {segment!r} is a point and cannot also be a collection")
    return existing


def add_element(parent: model.Submodel | model.SubmodelElementCollection, element: model.SubmodelElement) -> None:
    """Add `element` to a submodel or a collection (BaSyx keeps their children in differently named sets)."""
    if isinstance(parent, model.Submodel):
        parent.submodel_element.add(element)
    else:
        parent.value.add(element)


def _operational(
    spec: AssetSpec, sm_id_short: str, points: list[PointSpec]
) -> tuple[model.Submodel, dict[str, model.SubmodelElement]]:
    sm = model.Submodel(
        ids.submodel_id(spec.id, sm_id_short),
        id_short=sm_id_short,
        description=_text(f"Live data of {spec.id_short}, updated by the gateway from the machine"),
        semantic_id=ext_ref(ids.OPERATIONAL_DATA),
    )
    props: dict[str, model.SubmodelElement] = {}
    for p in points:
        segments = p.path.split(".")
        for s in segments:
            check_id_short(s, f"point {p.point_id} path {p.path!r}")
        parent: model.Submodel | model.SubmodelElementCollection = sm
        for s in segments[:-1]:
            parent = container_for(parent, s, p)
        try:
            parent.get_referable(segments[-1])
        except KeyError:
            pass
        else:
            raise ValueError(f"point {p.point_id}: path {p.path!r} of submodel {sm_id_short} is used twice")
        prop = point_element(p, segments[-1])
        add_element(parent, prop)
        props[p.point_id] = prop
    return sm, props


# --------------------------------------------------------------------------------------- time series


def record_id_shorts(points: list[PointSpec]) -> dict[str, str]:
    """point_id -> idShort of its variable in the TimeSeries Record (numeric points only).

    `Barrel.Zone1.Temperature` -> `Barrel_Zone1_Temperature`; points of a
    second operational submodel are prefixed with its idShort when the plain
    name is taken, and a counter makes any remaining clash unique.
    """
    taken = {"Time"}
    out: dict[str, str] = {}
    for p in points:
        if canonical_value_type(p.value_type) not in NUMERIC_TYPES:
            continue
        name = p.path.replace(".", "_")
        if name in taken:
            name = f"{p.submodel}_{name}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out[p.point_id] = name[:128]
    return out


def linked_segment(id_short: str, name: str, endpoint: str, query: str) -> model.SubmodelElementCollection:
    """An IDTA 02008 LinkedSegment: where (Endpoint) and how (Query) records of this series live."""
    return model.SubmodelElementCollection(
        id_short,
        [
            _mlp("Name", ids.TS_SEGMENT_NAME, name),
            model.Property("Endpoint", model.datatypes.String, endpoint, semantic_id=ext_ref(ids.TS_ENDPOINT)),
            model.Property("Query", model.datatypes.String, query, semantic_id=ext_ref(ids.TS_QUERY)),
            model.Property("State", model.datatypes.String, "in progress",
                           value_id=ext_ref(ids.TS_SEGMENT_STATE_IN_PROGRESS),
                           semantic_id=ext_ref(ids.TS_SEGMENT_STATE)),
        ],
        semantic_id=ext_ref(ids.TS_LINKED_SEGMENT),
    )


def history_query(spec: AssetSpec) -> str:
    """How to read this asset's records from the gateway's history route (the LinkedSegment's Query).

    The Endpoint is the gateway's AAS API base URL; history is one GET per variable, on the
    same idShortPath as its live Property, so a client needs no database credentials.
    """
    example = spec.points[0] if spec.points else None
    text = ("GET {Endpoint}/submodels/{base64url(submodelId)}/submodel-elements/{idShortPath}/history"
            "?from=<xs:dateTime>&to=<xs:dateTime>[&limit=N][&bucket=PT1M&agg=min,max,avg,count,last] "
            "-> {\"samples\": [{\"timestamp\", \"value\", \"status\", ...}]} or {\"buckets\": [...]}. "
            "Each variable of Metadata/Record names its point '<asset>/<submodel>/<idShortPath>' in its description.")
    if example is not None:
        sm = ids.submodel_id(spec.id, example.submodel)
        text += f" Example: submodelId {sm}, idShortPath {example.path}."
    return text


def _record_variables(points: tuple[PointSpec, ...]) -> list[model.SubmodelElement]:
    """The Record's variables: its Time, then one Property per numeric point."""
    record_vars: list[model.SubmodelElement] = [
        model.Property("Time", model.datatypes.DateTime, semantic_id=ext_ref(ids.TS_UTC_TIME))
    ]
    by_id = {p.point_id: p for p in points}
    for point_id, id_short in record_id_shorts(list(points)).items():
        p = by_id[point_id]
        quals = []
        if p.unit:
            quals.append(unit_qualifier(p.unit))
        record_vars.append(
            model.Property(
                id_short,
                xs_class(p.value_type),
                description=_text(f"point {point_id}"),
                semantic_id=ext_ref(p.semantic_id) if p.semantic_id else None,
                qualifier=quals,
            )
        )
    return record_vars


def _time_series(spec: AssetSpec) -> model.Submodel:
    # the Record's variables (one per numeric point) are built when first read: see aas_models.lazy
    record = lazy.SubmodelElementCollection("Record", functools.partial(_record_variables, spec.points),
                                            semantic_id=ext_ref(ids.TS_RECORD))
    metadata_children: list[model.SubmodelElement] = [
        _mlp("Name", ids.TS_METADATA_NAME, f"{spec.id_short} operational data"),
    ]
    if spec.description:
        metadata_children.append(_mlp("Description", ids.TS_METADATA_DESCRIPTION, spec.description))
    metadata_children.append(record)
    metadata = model.SubmodelElementCollection("Metadata", metadata_children, semantic_id=ext_ref(ids.TS_METADATA))

    endpoint = spec.history_url or HISTORY_PLACEHOLDER
    query = history_query(spec)
    linked = linked_segment("LinkedSegment", f"History of {spec.id_short} in the gateway historian", endpoint, query)
    segments = model.SubmodelElementCollection("Segments", [linked], semantic_id=ext_ref(ids.TS_SEGMENTS))
    read_records = model.Operation(
        "ReadRecords",
        input_variable=[
            model.Range(
                "Timespan",
                model.datatypes.DateTime,
                description=_text(
                    "The valueType of the given timespan must match the valueType of the time properties "
                    "of the segments."
                ),
                semantic_id=ext_ref(ids.TS_TIMESPAN),
            )
        ],
        output_variable=[model.SubmodelElementCollection("Records", semantic_id=ext_ref(ids.TS_RECORDS))],
        semantic_id=ext_ref(ids.TS_READ_RECORDS),
    )
    return model.Submodel(
        ids.submodel_id(spec.id, "TimeSeries"),
        submodel_element=[metadata, segments, read_records],
        id_short="TimeSeries",
        description=_text(f"Time series of the numeric points of {spec.id_short} (IDTA 02008)"),
        semantic_id=ext_ref(ids.TIME_SERIES),
    )


# --------------------------------------------------------------------------------------------- asset


@dataclass
class AssetModel:
    """Everything built for one asset, with direct handles for the pipeline."""

    shell: model.AssetAdministrationShell
    submodels: list[model.Submodel]
    properties: dict[str, model.SubmodelElement]  # point_id -> its live element (a Property for scalars)
    status: StatusSubmodel
    extra: dict[str, Any] = field(default_factory=dict)

    def add_linked_segment(self, id_short: str, name: str, endpoint: str, query: str) -> None:
        """Another place this asset's history lives (e.g. an InfluxDB the gateway forwards to)."""
        segments = self.submodel("TimeSeries").get_referable("Segments")
        assert isinstance(segments, model.SubmodelElementCollection)
        segments.value.add(linked_segment(id_short, name, endpoint, query))

    def set_history_url(self, url: str) -> None:
        """Point the TimeSeries LinkedSegment at the API once its real address is known (e.g. port 0)."""
        endpoint = self.submodel("TimeSeries").get_referable(["Segments", "LinkedSegment", "Endpoint"])
        assert isinstance(endpoint, model.Property)
        endpoint.value = url

    def submodel(self, id_short: str) -> model.Submodel:
        for sm in self.submodels:
            if sm.id_short == id_short:
                return sm
        raise KeyError(id_short)


def build_asset(spec: AssetSpec) -> AssetModel:
    """Build shell and submodels of one asset; raises ValueError on an inconsistent spec."""
    check_id_short(spec.id_short, f"asset {spec.id!r}")
    reserved = {"Nameplate", "TimeSeries", "GatewayStatus"}
    groups: dict[str, list[PointSpec]] = {}
    seen: set[str] = set()
    for p in spec.points:
        check_id_short(p.submodel, f"point {p.point_id} submodel")
        if p.submodel in reserved:
            raise ValueError(f"point {p.point_id}: submodel idShort {p.submodel!r} is reserved for the gateway")
        if p.point_id in seen:
            raise ValueError(f"asset {spec.id_short}: point id {p.point_id!r} is used twice")
        seen.add(p.point_id)
        groups.setdefault(p.submodel, []).append(p)

    submodels: list[model.Submodel] = []
    nameplate = _nameplate(spec)
    if nameplate is not None:
        submodels.append(nameplate)
    properties: dict[str, model.SubmodelElement] = {}
    for sm_id_short, pts in groups.items():
        sm, props = _operational(spec, sm_id_short, pts)
        submodels.append(sm)
        properties.update(props)
    submodels.append(_time_series(spec))
    status = _build_status(spec)
    submodels.append(status.submodel)

    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=spec.global_asset_id),
        spec.id,
        id_short=spec.id_short,
        description=_text(spec.description) if spec.description else None,
        submodel={model.ModelReference.from_referable(sm) for sm in submodels},
    )
    return AssetModel(shell, submodels, properties, status)
