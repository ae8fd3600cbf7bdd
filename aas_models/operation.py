"""The gateway's own shell and its OperationRate submodel (the operation-rate ledger, gateway/ops/ledger.py).

The gateway is an asset of the plant too (software that must run for years and whose operation rate
is scored), so it gets an Asset Administration Shell of its own, beside the machines'. Its
OperationRate submodel holds, per closed day and month, the gateway's availability and uptime,
each source's connected share and data completeness, each forwarder's delivering share, and the
daily anchors of the tamper-evident logs (the chain heads of the audit log and the ledger). Every
element is a derived point: its history is the per-day series, forwarded like any reading.

    OperationRate/
      Daily/     Gateway/{Availability, UpTime, DownTime, Outages}   (timestamped at the day's start)
                 Sources/<asset>/{Availability, Completeness}
                 Forwarders/<name>/{Availability}
      Monthly/   the same, per month
      Anchors/   AuditLog, Ledger: "<seq>:<sha256>" of each chain's head, once a day
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from basyx.aas import model

from aas_models import ids
from aas_models.builder import add_element, container_for, ext_ref, point_element
from aas_models.spec import PointSpec

OPERATION_RATE = "OperationRate"


@dataclass(frozen=True)
class OperationElement:
    path: str  # idShortPath inside the submodel
    value_type: str
    unit: str | None
    description: str


def build_gateway_shell(aas_id: str, id_short: str, description: str) -> model.AssetAdministrationShell:
    """The gateway's own (empty) shell; submodels are added by the producers that fill them."""
    return model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=aas_id),
        aas_id,
        id_short=id_short,
        description=model.MultiLanguageTextType({"en": description}),
    )


def build_operation_submodel(aas_id: str, asset: str, elements: Sequence[OperationElement]
                             ) -> tuple[model.Submodel, dict[str, model.Property]]:
    """The OperationRate submodel with the given Properties; idShortPath -> live Property."""
    sm = model.Submodel(
        ids.submodel_id(aas_id, OPERATION_RATE),
        id_short=OPERATION_RATE,
        description=model.MultiLanguageTextType({"en": "Operation rate of the gateway, its sources and forwarders "
                                                 "per day and month, from its tamper-evident ledger"}),
        semantic_id=ext_ref(ids.OPERATION_RATE))
    props: dict[str, model.Property] = {}
    for e in elements:
        spec = PointSpec(f"{asset}/{OPERATION_RATE}/{e.path}", OPERATION_RATE, e.path, e.value_type, e.unit,
                         ids.OPERATION_RATE_ELEMENT + e.path.rsplit(".", 1)[-1], e.description)
        parent: model.Submodel | model.SubmodelElementCollection = sm
        segments = e.path.split(".")
        for seg in segments[:-1]:
            parent = container_for(parent, seg, spec)
            if parent.semantic_id is None:
                parent.semantic_id = ext_ref(ids.OPERATION_RATE_ELEMENT + seg)
        prop = point_element(spec, segments[-1])
        assert isinstance(prop, model.Property)
        add_element(parent, prop)
        props[e.path] = prop
    return sm, props
