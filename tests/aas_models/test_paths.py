"""idShortPath parsing and resolution."""

from __future__ import annotations

import pytest
from basyx.aas import model

from aas_models.paths import element_path, parse_id_short_path, resolve


def _sm() -> model.Submodel:
    lst = model.SubmodelElementList(
        "Temps",
        model.SubmodelElementCollection,
        [model.SubmodelElementCollection(None, [model.Property("v", model.datatypes.Int, 1)]) for _ in range(3)],
    )
    ent = model.Entity(
        "E",
        model.EntityType.SELF_MANAGED_ENTITY,
        [model.Property("s1", model.datatypes.String)],
        global_asset_id="urn:x",
    )
    ref = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:a"),))
    are = model.AnnotatedRelationshipElement("R", ref, ref, annotation=[model.Property("note", model.datatypes.String)])
    smc = model.SubmodelElementCollection(
        "Barrel",
        [model.SubmodelElementCollection("Zone1", [model.Property("Temperature", model.datatypes.Double, 1.0)])],
    )
    return model.Submodel("urn:sm", [lst, ent, are, smc])


def test_parse() -> None:
    assert parse_id_short_path("a.b[0].c") == ["a", "b", 0, "c"]
    assert parse_id_short_path("Temps[12]") == ["Temps", 12]
    assert parse_id_short_path("m[0][1]") == ["m", 0, 1]
    assert parse_id_short_path("x.y") == ["x", "y"]


@pytest.mark.parametrize("bad", ["", "a..b", "a.", ".a", "1a", "a.b[x]", "a[0]b", "a[-1]", "a b", "a/b", "a.b]"])
def test_parse_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="idShortPath"):
        parse_id_short_path(bad)


def test_resolve_and_path() -> None:
    sm = _sm()
    t = resolve(sm, "Barrel.Zone1.Temperature")
    assert isinstance(t, model.Property) and t.value == 1.0
    assert element_path(t) == "Barrel.Zone1.Temperature"
    v = resolve(sm, "Temps[2].v")
    assert element_path(v) == "Temps[2].v"
    assert element_path(resolve(sm, "Temps[1]")) == "Temps[1]"
    assert resolve(sm, "E.s1").id_short == "s1"
    assert element_path(resolve(sm, "R.note")) == "R.note"


@pytest.mark.parametrize(
    "missing", ["Nope", "Temps[3]", "Temps.v", "Barrel[0]", "Barrel.Zone1.Temperature.x", "barrel.Zone1"]
)
def test_resolve_missing(missing: str) -> None:
    with pytest.raises(KeyError):
        resolve(_sm(), missing)
