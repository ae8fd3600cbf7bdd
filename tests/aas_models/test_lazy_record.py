"""The TimeSeries Record built on first use (aas_models.lazy) reads exactly like one built at once."""

from __future__ import annotations

import json

from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder

from aas_models import lazy, valueonly
from aas_models.environment import build_repository
from aas_models.spec import AssetSpec


def _children() -> list[model.SubmodelElement]:
    return [model.Property("Time", model.datatypes.DateTime),
            model.Property("A", model.datatypes.Double, description=model.MultiLanguageTextType({"en": "point a"})),
            model.Property("B", model.datatypes.Int)]


def _dump(obj: object) -> str:
    return json.dumps(obj, cls=AASToJsonEncoder)


def test_lazy_collection_serialises_like_an_eager_one() -> None:
    calls = []

    def make() -> list[model.SubmodelElement]:
        calls.append(1)
        return _children()

    sem = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:x:record"),))
    made = lazy.SubmodelElementCollection("Record", make, semantic_id=sem)
    eager = model.SubmodelElementCollection("Record", _children(), semantic_id=sem)
    assert calls == []  # nothing built yet
    assert _dump(made) == _dump(eager)
    assert valueonly.to_value(made, level="deep", extent="withoutBlobValue") == valueonly.to_value(
        eager, level="deep", extent="withoutBlobValue")
    assert type(made).__name__ == type(eager).__name__  # API messages name the class
    assert calls == [1]  # built once
    made.value.add(model.Property("C", model.datatypes.Int))
    assert [e.id_short for e in made.value] == ["Time", "A", "B", "C"] and calls == [1]


def test_lazy_collection_is_built_by_a_lookup_first() -> None:
    made = lazy.SubmodelElementCollection("Record", _children)
    a = made.get_referable("A")  # through the namespace, before anything read `value`
    assert a.parent is made and a.id_short == "A"
    assert [e.id_short for e in made.value] == ["Time", "A", "B"]


def test_record_reads_the_same_whether_looked_up_or_serialised_first(specs: list[AssetSpec]) -> None:
    _, first = build_repository(specs)
    _, second = build_repository(specs)
    spec = specs[0]
    name = next(p.path.replace(".", "_") for p in spec.points if p.value_type in ("xs:double", "xs:float", "xs:int"))
    ts = first[spec.id_short].submodel("TimeSeries")
    var = ts.get_referable(["Metadata", "Record", name])
    assert isinstance(var, model.Property) and var.description is not None
    assert _dump(ts) == _dump(second[spec.id_short].submodel("TimeSeries"))
