"""Every OPC UA built-in type maps to its AAS element, value and ValueOnly form; the model stays constraint-clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder, StrictAASFromJsonDecoder

from aas_models import live
from aas_models.builder import AssetModel, build_asset
from aas_models.datatypes import DEFAULT_LANGUAGE, StructureValue, coercer, id_short_of
from aas_models.environment import build_repository, export_aasx, export_json
from aas_models.live import source_timestamp_of, status_of
from aas_models.pointtypes import OPCUA_BUILT_INS, PointType, canonical_value_type, parse_point_type
from aas_models.spec import AssetSpec, PointSpec
from aas_models.valueonly import to_value

from .test_build_export import _check_file
from .zoo import ZOO, Localized, described, id_short_for

TS = 1_700_000_000_123_456_789


def _asset(points: dict[str, str]) -> AssetModel:
    specs = tuple(PointSpec(f"Z/OperationalData/{k}", "OperationalData", k, canonical_value_type(t))
                  for k, t in points.items())
    return build_asset(AssetSpec("urn:test:aas:Z", "Z", "urn:test:asset:Z", specs))


def test_every_built_in_type_has_a_mapping() -> None:
    assert {t for t, *_ in ZOO if "[" not in t} >= set(OPCUA_BUILT_INS)


@pytest.mark.parametrize(("type_name", "raw", "cls", "value_type", "expected"), ZOO, ids=[z[0] for z in ZOO])
def test_element_value_and_value_only(type_name: str, raw: Any, cls: type, value_type: str | None,
                                      expected: Any) -> None:
    m = _asset({id_short_for(type_name): type_name})
    el = m.properties[f"Z/OperationalData/{id_short_for(type_name)}"]
    assert type(el) is cls
    if value_type is not None:
        assert isinstance(el, model.Property) and model.datatypes.XSD_TYPE_NAMES[el.value_type] == value_type
    coerced = coercer(canonical_value_type(type_name))(raw)
    live.set_live_value(el, coerced, TS, 0)
    assert status_of(el) == 0, f"{type_name}: {coerced!r} was refused"
    assert to_value(el) == expected
    if parse_point_type(type_name).is_json:
        # the sample value that the historian, MQTT and InfluxDB carry is the element's ValueOnly value
        assert json.loads(json.dumps(coerced, allow_nan=False)) == coerced
        assert source_timestamp_of(el) is not None and el.get_qualifier_by_type("Quality").value == "Good"
    json.loads(json.dumps(el, cls=AASToJsonEncoder), cls=StrictAASFromJsonDecoder)


def test_lists_follow_the_data_and_carry_item_types() -> None:
    m = _asset({"A": "Double[]", "M": "Int16[][]"})
    a = m.properties["Z/OperationalData/A"]
    assert isinstance(a, model.SubmodelElementList)
    assert a.type_value_list_element is model.Property and a.value_type_list_element is model.datatypes.Double
    for data in ([1.0, 2.0, 3.0], [4.0], [], [5.0, 6.0]):
        live.set_live_value(a, coercer("xs:double[]")(data), TS, 0)
        assert to_value(a) == data and len(a.value) == len(data)
    live.set_live_value(a, None, TS, 0x80310000)  # bad: the last usable value stays
    assert to_value(a) == [5.0, 6.0] and status_of(a) == 0x80310000
    mm = m.properties["Z/OperationalData/M"]
    assert isinstance(mm, model.SubmodelElementList) and mm.type_value_list_element is model.SubmodelElementList
    live.set_live_value(mm, coercer("xs:short[][]")([[1, 2], [3, 4], [5, 6]]), TS, 0)
    assert all(isinstance(row, model.SubmodelElementList) and row.value_type_list_element is model.datatypes.Short
               for row in mm.value)
    assert to_value(mm) == [[1, 2], [3, 4], [5, 6]]


def test_structure_collection_is_built_on_first_value_and_rebuilt_only_when_fields_change() -> None:
    m = _asset({"S": "Structure"})
    s = m.properties["Z/OperationalData/S"]
    assert isinstance(s, model.SubmodelElementCollection) and len(s.value) == 0
    v1 = described({"Speed": ("Double", 1.5), "Tool": ("Structure", described({"Id": ("UInt32", 7)})),
                    "Temps": ("Float[]", [20.5, 21.0]), "Label": ("LocalizedText", Localized("hot", "en"))})
    live.set_live_value(s, coercer("Structure")(v1), TS, 0)
    speed = s.get_referable("Speed")
    assert isinstance(speed, model.Property) and speed.value_type is model.datatypes.Double
    assert isinstance(s.get_referable("Tool"), model.SubmodelElementCollection)
    temps = s.get_referable("Temps")
    assert isinstance(temps, model.SubmodelElementList) and temps.value_type_list_element is model.datatypes.Float
    assert isinstance(s.get_referable("Label"), model.MultiLanguageProperty)
    assert to_value(s) == {"Speed": 1.5, "Tool": {"Id": 7}, "Temps": [20.5, 21.0], "Label": [{"en": "hot"}]}
    v2 = described({"Speed": ("Double", 2.5), "Tool": ("Structure", described({"Id": ("UInt32", 8)})),
                    "Temps": ("Float[]", [22.0]), "Label": ("LocalizedText", Localized("cold", "en"))})
    live.set_live_value(s, coercer("Structure")(v2), TS, 0)
    assert s.get_referable("Speed") is speed  # same fields: updated in place
    assert to_value(s)["Speed"] == 2.5 and to_value(s)["Temps"] == [22.0]
    v3 = described({"Other": ("Boolean", True)})
    live.set_live_value(s, coercer("Structure")(v3), TS, 0)
    assert to_value(s) == {"Other": True} and speed.parent is None


def test_field_names_become_valid_unique_id_shorts() -> None:
    taken: set[str] = set()
    assert [id_short_of(n, taken) for n in ("Speed", "speed", "my field", "1st", "_x", "", "Ü")] == \
        ["Speed", "speed_2", "my_field", "F1st", "F_x", "Field", "F_"]
    v = coercer("Structure")(described({"a-b": ("Int32", 1), "a_b": ("Int32", 2), "x": ("Int32", 3)}))
    assert isinstance(v, StructureValue) and v == {"a_b": 1, "a_b_2": 2, "x": 3}


def test_plain_dicts_get_inferred_types() -> None:
    v = coercer("Structure")({"t": 21.5, "n": 3, "ok": True, "s": "x", "l": [1, 2.5], "sub": {"a": None}})
    assert {k: t.name for k, t in v.types.items()} == {
        "t": "xs:double", "n": "xs:long", "ok": "xs:boolean", "s": "xs:string", "l": "xs:double[]", "sub": "Structure"}


@pytest.mark.parametrize(("type_name", "raw"), [
    ("xs:string", [1, 2]), ("xs:string", {"a": 1}), ("Double[]", 1.5), ("Double[]", "1,2"), ("Int32[][]", [1, 2]),
    ("Guid", "not-a-guid"), ("NodeId", 5), ("LocalizedText", 5), ("Structure", [1]), ("ByteString", 5),
    ("StatusCode", -1), ("LocalizedText[]", "x"),
])
def test_mismatches_raise_never_repr_text(type_name: str, raw: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        coercer(canonical_value_type(type_name))(raw)


def test_type_names() -> None:
    assert canonical_value_type("bytestring") == "xs:base64Binary"
    assert canonical_value_type("ExtensionObject") == "Structure"
    assert canonical_value_type("basedatatype[]") == "Variant[]"
    assert canonical_value_type(" Double [] ") == "xs:double[]"
    assert canonical_value_type("xs:int[][]") == "xs:int[][]"
    assert parse_point_type("LocalizedText[]") == PointType("LocalizedText", 1)
    for bad in ("Quaternion", "Double[", "Double[2]", "[]"):
        with pytest.raises(ValueError, match=r"unknown data type .* OPC UA built-in type name"):
            parse_point_type(bad)


def test_localized_text_locale_rules() -> None:
    c = coercer("LocalizedText")
    assert c(Localized("x", "")) == [{DEFAULT_LANGUAGE: "x"}]
    assert c(Localized("x", "en_US")) == [{"en-US": "x"}]
    assert c("plain") == [{DEFAULT_LANGUAGE: "plain"}]
    assert c([{"en": "a"}, {"de": "b"}]) == [{"en": "a"}, {"de": "b"}]
    assert c(Localized("", "en")) is None


@pytest.mark.slow
def test_model_with_every_kind_passes_aas_test_engines(tmp_path: Path) -> None:
    points = {id_short_for(t): t for t, *_ in ZOO}
    m = _asset(points)
    for t, raw, *_ in ZOO:
        live.set_live_value(m.properties[f"Z/OperationalData/{id_short_for(t)}"], coercer(canonical_value_type(t))(raw),
                            TS, 0)
    empty = _asset(points)  # and as built, before any value
    for i, asset in enumerate((m, empty)):
        repo, _ = build_repository([])
        repo.add_shell(asset.shell)
        for sm in asset.submodels:
            repo.add_submodel(sm)
        export_json(repo, tmp_path / f"env{i}.json")
        export_aasx(repo, tmp_path / f"env{i}.aasx")
        _check_file(tmp_path / f"env{i}.json", "json")
        _check_file(tmp_path / f"env{i}.aasx", "aasx")
        for sm in asset.submodels:
            json.loads(json.dumps(sm, cls=AASToJsonEncoder), cls=StrictAASFromJsonDecoder)
