"""ValueOnly: every supported valueType round-trips through JSON text; containers and errors."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC
from typing import Any

import pytest
from basyx.aas import model
from hypothesis import given, settings
from hypothesis import strategies as st

from aas_models import live
from aas_models.builder import xs_class
from aas_models.datatypes import VALUE_TYPES, coercer
from aas_models.live import status_of
from aas_models.valueonly import to_value
from tests.aas_lookup import child
from tests.aas_models.valueonly_reader import set_from_value, submodel_value

_INT_BOUNDS = {
    "xs:byte": (-(2**7), 2**7 - 1),
    "xs:short": (-(2**15), 2**15 - 1),
    "xs:int": (-(2**31), 2**31 - 1),
    "xs:long": (-(2**63), 2**63 - 1),
    "xs:unsignedByte": (0, 2**8 - 1),
    "xs:unsignedShort": (0, 2**16 - 1),
    "xs:unsignedInt": (0, 2**32 - 1),
    "xs:unsignedLong": (0, 2**64 - 1),
    "xs:integer": (-(2**63), 2**64 - 1),
    "xs:nonNegativeInteger": (0, 2**64 - 1),
}
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    **{vt: st.integers(lo, hi) for vt, (lo, hi) in _INT_BOUNDS.items()},
    "xs:double": st.floats(),
    "xs:float": st.floats(width=32),
    "xs:decimal": st.floats(allow_nan=False, allow_infinity=False),
    "xs:boolean": st.booleans(),
    "xs:string": st.text(),
    "xs:anyURI": st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126)),
    "xs:dateTime": st.datetimes(timezones=st.just(UTC)),
    "xs:base64Binary": st.binary(),
    "xs:duration": st.integers(0, 10**7),  # seconds (the KPI engine's durations)
}


def test_strategies_cover_every_value_type() -> None:
    assert set(STRATEGIES) == set(VALUE_TYPES)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b) and type(a) is type(b)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[str, Any]:
    vt = draw(st.sampled_from(sorted(VALUE_TYPES)))
    return vt, draw(STRATEGIES[vt])


@settings(max_examples=1500, deadline=None)
@given(typed_values())
@pytest.mark.slow
def test_property_round_trip_every_value_type(tv: tuple[str, Any]) -> None:
    vt, raw = tv
    p = model.Property("P", xs_class(vt))
    live.set_live_value(p, coercer(vt)(raw), None, 0)
    assert status_of(p) == 0, f"{vt} {raw!r} was rejected"
    text = json.dumps(to_value(p), allow_nan=False)
    fresh = model.Property("P", xs_class(vt))
    set_from_value(fresh, json.loads(text))
    assert _same(p.value, fresh.value), (vt, raw, text, p.value, fresh.value)


def test_native_json_types() -> None:
    def v(vt: str, x: Any) -> Any:
        p = model.Property("P", xs_class(vt))
        live.set_live_value(p, coercer(vt)(x), None, 0)
        return to_value(p)

    assert v("xs:int", 5) == 5 and v("xs:double", 1.5) == 1.5 and v("xs:boolean", True) is True
    assert v("xs:double", float("nan")) == "NaN" and v("xs:float", float("-inf")) == "-INF"
    assert v("xs:dateTime", "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00+00:00"
    assert v("xs:decimal", 2.0) == 2 and v("xs:string", "a") == "a"


@pytest.mark.parametrize(
    ("vt", "value", "msg"),
    [
        ("xs:int", "5", "JSON integer"),
        ("xs:int", 2**31, "out of range"),
        ("xs:unsignedByte", -1, "out of range"),
        ("xs:int", 1.5, "JSON integer"),
        ("xs:int", True, "JSON integer"),
        ("xs:double", "1.5", "JSON number"),
        ("xs:float", 1e39, "out of range"),
        ("xs:boolean", 1, "JSON boolean"),
        ("xs:string", 3, "JSON string"),
        ("xs:dateTime", "yesterday", "dateTime"),
        ("xs:decimal", "NaN", "decimal"),
    ],
)
def test_property_errors(vt: str, value: Any, msg: str) -> None:
    p = model.Property("P", xs_class(vt))
    with pytest.raises(ValueError, match=msg):
        set_from_value(p, value)
    assert p.value is None


def _ref(v: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, v),))


def _submodel() -> model.Submodel:
    return model.Submodel(
        "urn:sm",
        [
            model.SubmodelElementCollection(
                "Spindle",
                [
                    model.Property("Speed", model.datatypes.Double, 1200.5),
                    model.Property("Running", model.datatypes.Boolean, True),
                    model.Property("Unset", model.datatypes.Int),
                ],
            ),
            model.SubmodelElementList(
                "Temps",
                model.Property,
                [model.Property(None, model.datatypes.Int, i) for i in range(3)],
                value_type_list_element=model.datatypes.Int,
            ),
            model.MultiLanguageProperty("Name", model.MultiLanguageTextType({"en": "Mill", "de": "Fräse"})),
            model.Range("Limits", model.datatypes.Int, min=3, max=15),
            model.File("Manual", "application/pdf", "/aasx/manual.pdf"),
            model.Blob("Logo", "image/png", b"\x89PNG"),
            model.ReferenceElement("Ref", _ref("urn:x")),
            model.RelationshipElement("Rel", _ref("urn:a"), _ref("urn:b")),
            model.AnnotatedRelationshipElement(
                "ARel", _ref("urn:a"), _ref("urn:b"), annotation=[model.Property("Rule", model.datatypes.String, "r1")]
            ),
            model.Entity(
                "Part",
                model.EntityType.SELF_MANAGED_ENTITY,
                [model.Property("Mass", model.datatypes.Double, 2.5)],
                global_asset_id="urn:asset:part",
            ),
            model.BasicEventElement(
                "Evt",
                model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, "urn:sm"),), model.Submodel),
                model.Direction.OUTPUT,
                model.StateOfEvent.ON,
            ),
            model.Operation("Op"),
            model.Capability("Cap"),
        ],
    )


def test_submodel_value_shapes() -> None:
    v = submodel_value(_submodel())
    assert v["Spindle"] == {"Speed": 1200.5, "Running": True}  # Unset is omitted
    assert v["Temps"] == [0, 1, 2]
    assert v["Name"] == [{"en": "Mill"}, {"de": "Fräse"}]
    assert v["Limits"] == {"min": 3, "max": 15}
    assert v["Manual"] == {"contentType": "application/pdf", "value": "/aasx/manual.pdf"}
    assert v["Logo"] == {"contentType": "image/png", "value": base64.b64encode(b"\x89PNG").decode()}
    assert v["Ref"] == {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:x"}]}
    assert set(v["Rel"]) == {"first", "second"}
    assert v["ARel"]["annotations"] == [{"Rule": "r1"}]
    assert v["Part"] == {
        "statements": {"Mass": 2.5},
        "entityType": "SelfManagedEntity",
        "globalAssetId": "urn:asset:part",
    }
    assert v["Evt"]["observed"]["type"] == "ModelReference"
    assert "Op" not in v and "Cap" not in v
    assert "value" not in to_value(child(_submodel(), "Logo", model.Blob), extent="withoutBlobValue")
    json.dumps(v, allow_nan=False)


def test_level_core() -> None:
    core = to_value(_submodel(), level="core")
    assert core["Spindle"] == {} and core["Temps"] == [] and core["Limits"] == {"min": 3, "max": 15}
    spindle = child(_submodel(), "Spindle", model.SubmodelElementCollection)
    assert to_value(spindle, level="core") == {"Speed": 1200.5, "Running": True}


def test_container_round_trip() -> None:
    src = _submodel()
    child(src, ["Spindle", "Speed"], model.Property).value = float("inf")
    text = json.dumps(submodel_value(src), allow_nan=False)
    dst = _submodel()
    for name in ("Spindle", "Temps", "Name", "Limits", "Manual", "Logo", "Ref"):
        dst.get_referable(name)  # exists
    data = json.loads(text)
    writable = {k: data[k] for k in ("Spindle", "Temps", "Name", "Limits", "Manual", "Logo", "Ref")}
    writable["Temps"] = [7, 8, 9]
    writable["Name"] = [{"en": "Lathe"}]
    set_from_value(dst, writable)
    assert child(dst, ["Spindle", "Speed"], model.Property).value == float("inf")
    assert to_value(child(dst, "Temps", model.SubmodelElementList)) == [7, 8, 9]
    assert to_value(child(dst, "Name", model.MultiLanguageProperty)) == [{"en": "Lathe"}]
    smc = child(dst, "Spindle", model.SubmodelElementCollection)
    set_from_value(smc, {"Speed": 3.0})  # partial update
    assert to_value(smc) == {"Speed": 3.0, "Running": True}


@pytest.mark.parametrize(
    ("path", "value", "msg"),
    [
        ([], {"Nope": 1}, "unknown child idShort 'Nope'"),
        ([], {"Spindle": {"Speed": 1.0, "Running": "yes"}}, "Spindle.Running"),
        ([], {"Temps": [1, 2]}, "3 elements"),
        ([], {"Temps": [1, 2, 2**40]}, r"Temps\[2\].*out of range"),
        ([], {"Limits": {"min": 1, "mid": 2}}, "Range"),
        ([], {"Logo": {"value": "***"}}, "base64"),
        ([], {"Name": [{"en": "a", "de": "b"}]}, "one"),
        ([], {"Op": 1}, "cannot be written"),
        (["Spindle"], [1], "JSON object"),
    ],
)
def test_set_errors_leave_element_unchanged(path: list[str], value: Any, msg: str) -> None:
    sm = _submodel()
    target = child(sm, path, model.SubmodelElementCollection) if path else sm
    before = json.dumps(submodel_value(sm))
    # a valid change next to the invalid one must not be applied either
    if isinstance(value, dict) and path == []:
        value = {"Spindle": {"Speed": 99.0}, **value} if "Spindle" not in value else value
    with pytest.raises(ValueError, match=msg):
        set_from_value(target, value)
    assert json.dumps(submodel_value(sm)) == before


def test_operation_has_no_value() -> None:
    with pytest.raises(ValueError, match="no ValueOnly"):
        to_value(model.Operation("Op"))
