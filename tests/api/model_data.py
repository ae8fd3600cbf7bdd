"""A small but complete model for API tests: every SubmodelElement type, nested collections and lists.

Built with BaSyx directly (not the gateway's builder) so the API tests pin the
API, not the builder; it must stay metamodel-3.0-constraint-clean because
aas-test-engines validates everything the server returns.
"""

from __future__ import annotations

import datetime
from typing import Any

from basyx.aas import model

from aas_models.repository import ModelRepository

AAS1 = "https://example.com/aas/Machine1"
AAS2 = "urn:example:aas:Machine2"
SM_OPS = "https://example.com/aas/Machine1/submodels/OperationalData"
SM_IDENT = "https://example.com/aas/Machine1/submodels/Identification"
SM_STATUS = "urn:example:aas:Machine2:submodels:Status"
SM_ORPHAN = "urn:example:sm:Orphan"
OPS_SEMANTIC = "urn:example:semantics:OperationalData:1:0"
IDENT_SEMANTIC = "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"
SUPPLEMENTAL = "urn:example:semantics:supplemental"
CD_SPEED = "urn:example:cd:Speed"


def _global(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _sm_ref(sm_id: str) -> model.ModelReference[model.Submodel]:
    return model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, sm_id),), model.Submodel)


def _prop(id_short: str | None, vt: type, value: object, semantic: str | None = None) -> model.Property:
    return model.Property(id_short, vt, value, semantic_id=_global(semantic) if semantic else None)


def operational_data() -> model.Submodel:
    D = model.datatypes
    axis = model.SubmodelElementCollection("Axis", [_prop("Temp", D.Double, 41.5), _prop("Load", D.Float, 0.25)])
    spindle = model.SubmodelElementCollection(
        "Spindle", [_prop("Speed", D.Double, 1200.5, f"{OPS_SEMANTIC}:Speed"), axis]
    )
    temps = model.SubmodelElementList(
        "Temps", model.Property, [_prop(None, D.Double, v) for v in (20.5, 21.0, 22.25)],
        value_type_list_element=D.Double,
    )
    barrels = model.SubmodelElementList(
        "Barrels", model.SubmodelElementCollection,
        [model.SubmodelElementCollection(None, [_prop("Setpoint", D.Int, 200 + i)]) for i in range(2)],
    )
    ops_ref = _sm_ref(SM_OPS)
    speed_ref: model.ModelReference[Any] = model.ModelReference(
        (model.Key(model.KeyTypes.SUBMODEL, SM_OPS), model.Key(model.KeyTypes.SUBMODEL_ELEMENT_COLLECTION, "Spindle"),
         model.Key(model.KeyTypes.PROPERTY, "Speed")), model.Property,
    )
    return model.Submodel(
        SM_OPS, id_short="OperationalData", semantic_id=_global(OPS_SEMANTIC),
        supplemental_semantic_id=[_global(SUPPLEMENTAL)],
        submodel_element=[
            spindle,
            _prop("Count", D.Int, 42),
            _prop("Running", D.Boolean, True),
            _prop("Mode", D.String, "AUTO"),
            _prop("LastChange", D.DateTime, D.DateTime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)),
            temps,
            barrels,
            model.MultiLanguageProperty("Name", model.MultiLanguageTextType({"en": "Milling machine", "de": "Fräse"})),
            model.Range("Limits", D.Double, min=0.0, max=100.0),
            model.File("Manual", "application/pdf", "/aasx/manual.pdf"),
            model.Blob("Logo", "image/png", b"\x89PNG\r\n"),
            model.ReferenceElement("IdentificationRef", _sm_ref(SM_IDENT)),
            model.RelationshipElement("Feeds", ops_ref, _sm_ref(SM_IDENT)),
            model.AnnotatedRelationshipElement(
                "Drives", speed_ref, ops_ref, annotation=[_prop("Ratio", D.Double, 2.5)],
            ),
            model.Entity(
                "Motor", model.EntityType.CO_MANAGED_ENTITY, statement=[_prop("Power", D.Double, 7.5)],
            ),
            model.BasicEventElement(
                "Overheat", speed_ref, model.Direction.OUTPUT, model.StateOfEvent.ON,
            ),
            model.Operation("Reset"),
            model.Capability("Milling"),
        ],
    )


def identification(sm_id: str = SM_IDENT, serial: str = "SN-001") -> model.Submodel:
    D = model.datatypes
    return model.Submodel(
        sm_id, id_short="Identification", semantic_id=_global(IDENT_SEMANTIC),
        submodel_element=[
            _prop("SerialNumber", D.String, serial),
            _prop("YearOfConstruction", D.Int, 2021),
            model.SubmodelElementCollection("Address", [_prop("City", D.String, "Berlin")]),
        ],
    )


def status() -> model.Submodel:
    D = model.datatypes
    return model.Submodel(
        SM_STATUS, id_short="Status",
        submodel_element=[_prop("Connected", D.Boolean, False), _prop("Uptime", D.Long, 3600)],
    )


def build_repository() -> ModelRepository:
    repo = ModelRepository()
    for sm in (operational_data(), identification(), status(), identification(SM_ORPHAN, "SN-999")):
        repo.add_submodel(sm)
    repo.add_shell(model.AssetAdministrationShell(
        model.AssetInformation(
            model.AssetKind.INSTANCE, global_asset_id="https://example.com/assets/M1",
            specific_asset_id=[model.SpecificAssetId("serialNumber", "SN-001")],
        ),
        AAS1, id_short="Machine1", submodel={_sm_ref(SM_OPS), _sm_ref(SM_IDENT)},
    ))
    repo.add_shell(model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="urn:example:assets:M2"),
        AAS2, id_short="Machine2", submodel={_sm_ref(SM_STATUS)},
    ))
    repo.add_concept_description(model.ConceptDescription(CD_SPEED, id_short="Speed"))
    return repo
