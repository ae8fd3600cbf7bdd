"""set_live_value: value, source timestamp and status land in the Property; bad samples stay visible."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder, StrictAASFromJsonDecoder

from aas_models import live
from aas_models.builder import build_asset
from aas_models.datatypes import coercer
from aas_models.live import source_timestamp_of, status_of
from aas_models.spec import AssetSpec, PointSpec
from connectors import status as st

TS = 1_700_000_000_123_456_789


def _prop(vt: str) -> model.Property:
    spec = AssetSpec(
        id="https://example.com/aas/M1",
        id_short="M1",
        global_asset_id="https://example.com/asset/M1",
        points=(PointSpec("M1/OperationalData/P", "OperationalData", "P", vt),),
    )
    prop = build_asset(spec).properties["M1/OperationalData/P"]
    assert isinstance(prop, model.Property)
    return prop


def _q(prop: model.Property, name: str) -> object:
    return prop.get_qualifier_by_type(name).value


def test_value_timestamp_status() -> None:
    p = _prop("xs:double")
    assert p.value is None and status_of(p) == st.BAD_WAITING_FOR_INITIAL_DATA
    assert _q(p, "Quality") == "Bad"
    live.set_live_value(p, 21.5, TS, 0)
    assert p.value == 21.5
    assert source_timestamp_of(p) == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert status_of(p) == 0 and _q(p, "Quality") == "Good" and _q(p, "StatusCode") == "0x00000000"
    live.set_live_value(p, 22.0, None, 0x40000000)
    assert p.value == 22.0 and _q(p, "Quality") == "Uncertain" and source_timestamp_of(p) is None


def test_bad_status_keeps_last_value_and_is_visible() -> None:
    p = _prop("xs:double")
    live.set_live_value(p, 1.0, TS, 0)
    live.set_live_value(p, 99.0, TS + 1_000_000_000, 0x80310000)
    assert p.value == 1.0
    assert status_of(p) == 0x80310000 and _q(p, "Quality") == "Bad"
    ts = source_timestamp_of(p)
    assert ts is not None and ts.second == 21  # the bad sample's time
    text = json.dumps(p, cls=AASToJsonEncoder)
    assert '"0x80310000"' in text and '"Bad"' in text
    json.loads(text, cls=StrictAASFromJsonDecoder)


def test_points_with_one_status_share_its_text_and_every_code_reads_right() -> None:
    a, b = _prop("xs:double"), _prop("xs:double")
    live.set_live_value(a, 1.0, TS, 0)
    live.set_live_value(b, 2.0, TS, 0)
    assert _q(a, "StatusCode") == "0x00000000" and _q(a, "StatusCode") is _q(b, "StatusCode")
    for code in range(0x80000000, 0x80000000 + 600 * 0x10000, 0x10000):  # more codes than the shared texts hold
        live.set_live_value(a, 3.0, TS, code)
        assert _q(a, "StatusCode") == st.status_text(code) and status_of(a) == code


def test_datetime_and_integer_types() -> None:
    p = _prop("xs:dateTime")
    live.set_live_value(p, coercer("xs:dateTime")("2024-05-01T10:00:00.5Z"), TS, 0)
    assert p.value == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert '"2024-05-01T10:00:00.500000+00:00"' in json.dumps(p, cls=AASToJsonEncoder)

    u = _prop("xs:unsignedInt")
    live.set_live_value(u, 4_000_000_000, TS, 0)
    assert u.value == 4_000_000_000 and isinstance(u.value, model.datatypes.UnsignedInt)
    live.set_live_value(u, -1, TS, 0)  # does not fit: kept, flagged
    assert u.value == 4_000_000_000 and status_of(u) == st.BAD_TYPE_MISMATCH

    b = _prop("xs:boolean")
    live.set_live_value(b, False, TS, 0)
    assert b.value is False and '"value": "false"' in json.dumps(b, cls=AASToJsonEncoder)

    d = _prop("xs:decimal")
    live.set_live_value(d, 0.1, TS, 0)
    assert str(d.value) == "0.1"


def test_plain_property_is_attached_on_first_sample() -> None:
    p = model.Property("X", model.datatypes.Int)
    live.set_live_value(p, 5, TS, 0)
    assert p.value == 5 and status_of(p) == 0


def test_direct_stores_equal_what_basyx_setters_store() -> None:
    """set_live_value bypasses BaSyx's value setters where they would store the object unchanged: same result."""
    for vt, raw in (("xs:double", 21.5), ("xs:string", "on"), ("xs:boolean", True), ("xs:int", 7),
                    ("xs:dateTime", "2024-05-01T10:00:00Z")):
        fast, slow = _prop(vt), _prop(vt)
        value = coercer(vt)(raw)  # as the pipeline hands it over
        live.set_live_value(fast, value, TS, 0x40000000)
        conv = live.converter(slow.value_type)
        slow.value = value if conv is None else conv(value)
        for name, q_value in (("SourceTimestamp", live.ns_to_datetime(TS)), ("StatusCode", "0x40000000"),
                              ("Quality", "Uncertain")):
            slow.get_qualifier_by_type(name).value = q_value
        assert (type(fast.value), fast.value) == (type(slow.value), slow.value), vt
        assert json.dumps(fast, cls=AASToJsonEncoder) == json.dumps(slow, cls=AASToJsonEncoder)


def test_a_template_qualifier_of_another_type_goes_through_basyx_setter() -> None:
    p = model.Property("X", model.datatypes.Double)
    p.qualifier.add(model.Qualifier("Quality", model.datatypes.Int, value=1))  # not ours: xs:int
    with pytest.raises(TypeError, match="cannot be trivially casted"):  # BaSyx's setter refuses 'Good'
        live.set_live_value(p, 1.0, TS, 0)
    assert live.attach(p).direct is False


def test_live_state_adds_no_attributes_to_the_property_and_little_memory() -> None:
    """Issue 9 (RSS at 10,000 points): an attribute added to a BaSyx object after its __init__ costs ~690 bytes
    (its shared-key dict becomes a private one), a stock Qualifier ~370; the live state takes neither."""
    import gc
    import tracemalloc

    p = model.Property("X", model.datatypes.Double)
    before = set(vars(p))
    h = live.attach(p)
    h.set(1.0, TS, 0)
    live.set_live_value(p, 2.0, TS, 0)
    assert set(vars(p)) == before
    assert [type(q).__name__ for q in p.qualifier] == ["SourceTimestampQualifier", "StatusCodeQualifier",
                                                       "QualityQualifier"]
    assert all(isinstance(q, model.Qualifier) and not q.supplemental_semantic_id for q in p.qualifier)

    n = 2000
    bare = [model.Property("X", model.datatypes.Double) for _ in range(n)]
    gc.collect()
    tracemalloc.start()
    try:
        handles = [live.attach(q) for q in bare]
        for x in handles:
            x.set(1.5, TS, 0)
        gc.collect()
        per_point = tracemalloc.get_traced_memory()[0] / n
    finally:
        tracemalloc.stop()
    assert per_point < 900, per_point  # three qualifiers, their entries in the qualifier set, the handle
