"""The in-memory AAS environment the REST API serves and the pipeline updates.

Shells and submodels are kept in insertion order (= configuration order), which
gives the API its deterministic paging order. Everything runs on the event
loop: the pipeline mutates Property values in place and API handlers read them
without locks, so API handlers must be `async def` (never threadpool `def`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from basyx.aas import model


class ModelRepository:
    def __init__(self) -> None:
        self._shells: dict[str, model.AssetAdministrationShell] = {}
        self._submodels: dict[str, model.Submodel] = {}
        self._concept_descriptions: dict[str, model.ConceptDescription] = {}

    def add_shell(self, shell: model.AssetAdministrationShell) -> None:
        if shell.id in self._shells:
            raise ValueError(f"duplicate AAS id {shell.id!r}")
        self._shells[shell.id] = shell

    def add_submodel(self, submodel: model.Submodel) -> None:
        if submodel.id in self._submodels:
            raise ValueError(f"duplicate submodel id {submodel.id!r}")
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

    def shell_submodels(self, shell: model.AssetAdministrationShell) -> Iterator[model.Submodel]:
        """The submodels a shell references, in the order of its submodel references."""
        for ref in shell.submodel:
            sm = self._submodels.get(ref.key[0].value)
            if sm is not None:
                yield sm

    def store(self, ids: Iterable[str] | None = None) -> model.DictIdentifiableStore:
        """A BaSyx store holding everything (or only `ids`), for the JSON/XML/AASX writers."""
        store: model.DictIdentifiableStore = model.DictIdentifiableStore()
        wanted = set(ids) if ids is not None else None
        for obj in [*self._shells.values(), *self._submodels.values(), *self._concept_descriptions.values()]:
            if wanted is None or obj.id in wanted:
                store.add(obj)
        return store
