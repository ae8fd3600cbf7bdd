"""The in-memory AAS environment the REST API serves and the pipeline updates.

Shells and submodels are kept in insertion order (= configuration order), which
gives the API its deterministic paging order. Everything runs on the event
loop: the pipeline mutates Property values in place and API handlers read them
without locks, so API handlers must be `async def` (never threadpool `def`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from basyx.aas import model


class ModelRepository:
    def __init__(self) -> None:
        self._shells: dict[str, model.AssetAdministrationShell] = {}
        self._submodels: dict[str, model.Submodel] = {}
        self._order: dict[str, int] = {}  # submodel id -> insertion index
        self._concept_descriptions: dict[str, model.ConceptDescription] = {}

    def add_shell(self, shell: model.AssetAdministrationShell) -> None:
        if shell.id in self._shells:
            raise ValueError(f"duplicate AAS id {shell.id!r}")
        self._shells[shell.id] = shell

    def add_submodel(self, submodel: model.Submodel) -> None:
        if submodel.id in self._submodels:
            raise ValueError(f"duplicate submodel id {submodel.id!r}")
        self._order[submodel.id] = len(self._submodels)
        self._submodels[submodel.id] = submodel

    def add_concept_description(self, cd: model.ConceptDescription) -> None:
        self._concept_descriptions[cd.id] = cd

    def shells(self) -> list[model.AssetAdministrationShell]:
        return list(self._shells.values())

    def submodels(self) -> list[model.Submodel]:
        return list(self._submodels.values())

    def concept_descriptions(self) -> list[model.ConceptDescription]:
        return list(self._concept_descriptions.values())

    def shell(self, aas_id: str) -> model.AssetAdministrationShell | None:
        return self._shells.get(aas_id)

    def submodel(self, submodel_id: str) -> model.Submodel | None:
        return self._submodels.get(submodel_id)

    def submodel_refs(self, shell: model.AssetAdministrationShell) -> list[model.ModelReference[Any]]:
        """The shell's submodel references in repository (= configuration) order.

        BaSyx keeps them in a set, whose order changes with each interpreter's hash seed; paging
        needs one order on every run. References to submodels not held here come last, by id.
        """
        order = self._order
        last = len(order)

        def key(ref: model.ModelReference[Any]) -> tuple[int, str]:
            sm_id = ref.key[0].value if ref.key else ""
            return order.get(sm_id, last), sm_id

        return sorted(shell.submodel, key=key)

    def store(self, ids: Iterable[str] | None = None) -> model.DictIdentifiableStore:
        """A BaSyx store holding everything (or only `ids`), for the JSON/XML/AASX writers."""
        store: model.DictIdentifiableStore = model.DictIdentifiableStore()
        wanted = set(ids) if ids is not None else None
        for obj in [*self._shells.values(), *self._submodels.values(), *self._concept_descriptions.values()]:
            if wanted is None or obj.id in wanted:
                store.add(obj)
        return store
