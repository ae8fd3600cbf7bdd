"""The whole-submodel answer kept by `SubmodelJsonCache` is byte for byte the uncached serialisation, always.

Every check compares the cached bytes with `encoding.json_response` on the same live model right after
a change, so a stale fragment anywhere fails it: live updates of every point type (good, uncertain and
bad samples, no source timestamp), values that are equal but serialise differently, writers other than
the pipeline (the status submodel, a detection event's lastUpdate, any attribute of any element kind),
and changes of structure.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from basyx.aas import model

from aas_models import live
from aas_models.builder import AssetModel
from aas_models.datatypes import coercer
from aas_models.environment import build_repository
from aas_models.pointtypes import INT_RANGES, VALUE_TYPES, canonical_value_type
from aas_models.repository import ModelRepository
from aas_models.spec import AssetSpec, PointSpec
from gateway.api import create_app, submodel_cache
from gateway.api import encoding as enc
from gateway.api.submodel_cache import SubmodelJsonCache
from tests.aas_models.test_point_types import ZOO, described
from tests.api import model_data as md
from tests.api.open_policy import open_policy

TS = 1_700_000_000_123_456_789
STATUSES = (0, 0x40000000, 0x80340000)  # Good, Uncertain, Bad (keeps the last good value)
SM_ID = "urn:t:aas:Z:submodels:OperationalData"

# two or more readings per xs value type, as a source delivers them (coerced before they are set)
XS_READINGS: dict[str, list[Any]] = {
    **{vt: [lo, hi, 0] for vt, (lo, hi) in INT_RANGES.items()},
    "xs:double": [1.5, -0.0, 0.0, float("nan"), float("inf"), 1e300],
    "xs:float": [0.25, -3.5],
    "xs:decimal": ["1.10", 2.5, "-0.000001"],
    "xs:boolean": [True, False],
    "xs:string": ["Läuft", "", "\u0000 \" \\ \n"],
    "xs:dateTime": ["2026-05-01T08:00:00.5Z", "2026-05-01T08:00:00+09:00"],
    "xs:anyURI": ["urn:x", "https://example.com/a?b=c"],
    "xs:base64Binary": [b"\x00\x01\xfe", b""],
    "xs:duration": ["PT1H2M", "P1Y"],
}
# other readings for the point types of ZOO, so lists change length and structures their fields
ZOO_MORE: dict[str, list[Any]] = {
    "Double[]": [[2.0], [], [1.0, 2.0, 3.0, 4.0]],
    "Int32[][]": [[[1]], [[1, 2], [3], []]],
    "ExtensionObject": [described({"Speed": ("Double", 2.5)}), described({"Speed": ("String", "fast")})],
    "Structure[]": [[described({"X": ("Int16", 3)})], []],
    "Variant": [7, "text"],
    "LocalizedText[]": [[]],
}


def _name(t: str) -> str:
    return t.replace("[]", "Arr").replace(":", "_")


def readings() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {vt: list(v) for vt, v in XS_READINGS.items()}
    for type_name, raw, *_ in ZOO:
        out.setdefault(type_name, []).extend([raw, *ZOO_MORE.get(type_name, [])])
    assert set(out) >= VALUE_TYPES
    return out


def zoo_model() -> tuple[ModelRepository, AssetModel, dict[str, list[Any]]]:
    types = readings()
    specs = tuple(PointSpec(f"Z/OperationalData/{_name(t)}", "OperationalData", f"Group.{_name(t)}",
                            canonical_value_type(t)) for t in types)
    repo, models = build_repository([AssetSpec("urn:t:aas:Z", "Z", "urn:t:asset:Z", specs)])
    return repo, models["Z"], types


def assert_fresh(cache: SubmodelJsonCache, submodel: model.Submodel, what: str,
                 blobs: tuple[bool, ...] = (False, True)) -> bytes:
    for blob in blobs:
        uncached = enc.json_response(submodel, with_blob=blob).body
        assert cache.normal(submodel, blob) == uncached, what
    return bytes(uncached)


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
def test_identical_after_live_updates_of_every_point_type() -> None:
    repo, m, types = zoo_model()
    submodels = repo.submodels()
    cache = SubmodelJsonCache()
    for sm in submodels:  # before the first sample: no values, BadWaitingForInitialData
        assert_fresh(cache, sm, f"{sm.id_short} before any sample")
    ts = itertools.count(TS, 1_000_000)
    changed = 0
    for round_ in range(3):
        for type_name, values in types.items():
            element = m.properties[f"Z/OperationalData/{_name(type_name)}"]
            for i, raw in enumerate(values):
                status = STATUSES[(round_ + i) % len(STATUSES)]
                source_ts = None if (round_, i) == (1, 0) else next(ts)
                before = enc.json_response(element.parent).body
                live.set_live_value(element, coercer(canonical_value_type(type_name))(raw), source_ts, status)
                body = assert_fresh(cache, m.submodel("OperationalData"), f"{type_name} = {raw!r} ({status:#x})",
                                    blobs=(round_ == 2,))
                changed += enc.json_response(element.parent).body != before
                assert body.count(b'"idShort":"Group"') == 1
    assert changed > 3 * len(types)  # the updates did change what is served
    for sm in submodels:
        assert_fresh(cache, sm, sm.id_short)


def test_equal_values_that_serialise_differently_are_not_taken_for_unchanged() -> None:
    _, m, _ = zoo_model()
    sm = m.submodel("OperationalData")
    cache = SubmodelJsonCache()
    dbl = m.properties["Z/OperationalData/xs_double"]
    dec = m.properties["Z/OperationalData/xs_decimal"]
    when = m.properties["Z/OperationalData/xs_dateTime"]
    utc = datetime.datetime(2026, 5, 1, 8, tzinfo=datetime.UTC)
    prop: Any
    for prop, a, b in ((dbl, 0.0, -0.0), (dec, decimal.Decimal("1.0"), decimal.Decimal("1.00")),
                       (when, utc, utc.astimezone(datetime.timezone(datetime.timedelta(hours=9))))):
        assert a == b
        prop.value = a
        first = assert_fresh(cache, sm, repr(a))
        prop.value = b
        assert assert_fresh(cache, sm, repr(b)) != first


def test_a_bad_sample_changes_only_the_qualifiers_and_is_seen() -> None:
    """A Bad sample keeps the last good value: only the status, quality and timestamp change, and they live in
    slots of the live qualifiers, not in any __dict__ (this served a stale status once)."""
    _, m, _ = zoo_model()
    sm = m.submodel("OperationalData")
    cache = SubmodelJsonCache()
    handle = live.attach(m.properties["Z/OperationalData/xs_int"])
    handle.set(5, TS, 0)
    assert_fresh(cache, sm, "good")
    for status, ts in ((0x80340000, TS), (0x80340000, None), (0x40000000, TS + 1000), (0, TS + 2000)):
        handle.set(5, ts, status)
        body = assert_fresh(cache, sm, f"{status:#x} at {ts}")
        assert f"{status:#010x}".encode() in body


def test_lists_and_structures_changed_under_the_same_timestamp_and_status() -> None:
    """Their items change in place (the list or collection object stays): never served stale."""
    _, m, types = zoo_model()
    sm = m.submodel("OperationalData")
    cache = SubmodelJsonCache()
    for type_name in ("Double[]", "Int32[][]", "ExtensionObject", "Structure[]", "LocalizedText[]"):
        element = m.properties[f"Z/OperationalData/{_name(type_name)}"]
        seen = set()
        for raw in types[type_name]:
            live.set_live_value(element, coercer(canonical_value_type(type_name))(raw), TS, 0)
            seen.add(assert_fresh(cache, sm, f"{type_name} = {raw!r}"))
        assert len(seen) > 1, type_name
    # an item changed in place, its list untouched
    lst = m.properties["Z/OperationalData/DoubleArr"]
    live.set_live_value(lst, [1.0, 2.0], TS, 0)
    assert_fresh(cache, sm, "list")
    item = next(iter(lst.value))  # type: ignore[attr-defined]
    item.value = 7.0
    assert b'"7.0"' in assert_fresh(cache, sm, "an item set in place")


def test_writers_other_than_the_pipeline_are_seen() -> None:
    _, m, _ = zoo_model()
    cache = SubmodelJsonCache()
    status = m.submodel("GatewayStatus")
    assert_fresh(cache, status, "status")
    m.status.update(state="connected", state_since_ns=TS, last_sample_ns=TS, bad_points=2, connects=1,
                    last_error=None)
    assert_fresh(cache, status, "status after update")
    m.status.update_storage(10, 1, 0, "point X: refused")
    assert b"point X: refused" in assert_fresh(cache, status, "status after storage update")
    m.set_history_url("http://127.0.0.1:1/api/v3.0")
    assert b"127.0.0.1:1" in assert_fresh(cache, m.submodel("TimeSeries"), "history url")


def _elements(parent: Any) -> Iterator[Any]:
    for child in enc.children(parent):
        yield child
        yield from _elements(child)


def test_every_element_kind_and_any_attribute() -> None:
    """The API test model holds every SubmodelElement kind; any attribute set on any of them shows at once."""
    repo = md.build_repository()
    cache = SubmodelJsonCache()
    submodels = repo.submodels()
    kinds = set()
    for sm in submodels:
        assert_fresh(cache, sm, sm.id_short)
        for el in _elements(sm):
            kinds.add(type(el).__name__)
            if isinstance(el, model.Property):
                el.value = None
            elif isinstance(el, model.Range):
                el.min = None
            elif isinstance(el, model.Blob):
                el.value = b"changed"
            elif isinstance(el, model.File):
                el.value = "/changed.pdf"
            elif isinstance(el, model.MultiLanguageProperty):
                el.value = model.MultiLanguageTextType({"en": "changed"})
            elif isinstance(el, model.BasicEventElement):
                el.last_update = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            el.description = model.MultiLanguageTextType({"en": f"now about {type(el).__name__}"})
            assert_fresh(cache, sm, f"{type(el).__name__} {el.id_short}")
    assert {"Property", "Range", "Blob", "File", "MultiLanguageProperty", "SubmodelElementCollection",
            "SubmodelElementList", "Entity"} <= kinds


def test_a_changed_structure_rebuilds_the_skeleton() -> None:
    _, m, _ = zoo_model()
    cache = SubmodelJsonCache()
    ts = m.submodel("TimeSeries")
    assert_fresh(cache, ts, "time series")
    m.add_linked_segment("Influx", "InfluxDB", "http://influx:8086", "from(bucket: ...)")
    assert b"http://influx:8086" in assert_fresh(cache, ts, "a segment added to a collection")
    sm = m.submodel("OperationalData")
    assert_fresh(cache, sm, "ops")
    group = sm.get_referable("Group")
    assert isinstance(group, model.SubmodelElementCollection)
    group.value.add(model.Property("Added", model.datatypes.Int, 5))
    assert b'"Added"' in assert_fresh(cache, sm, "a property added")
    extra = model.Property("Late", model.datatypes.Double, 1.0)
    group.value.add(extra)
    assert_fresh(cache, sm, "another")
    live.set_live_value(extra, 2.0, TS, 0)  # its live qualifiers are added on its first sample
    assert b'"SourceTimestamp"' in assert_fresh(cache, sm, "qualifiers added")


def test_only_what_changed_is_encoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _, m, _ = zoo_model()
    sm = m.submodel("OperationalData")
    cache = SubmodelJsonCache()
    assert_fresh(cache, sm, "first")
    encoded: list[Any] = []
    real = submodel_cache.enc.dumps

    def counting(data: Any, cls: type) -> str:
        encoded.append(data)
        return real(data, cls)

    monkeypatch.setattr(submodel_cache.enc, "dumps", counting)
    dynamic = [el for el in _elements(sm) if getattr(el, "_live_dynamic", False) and
               not any(getattr(p, "_live_dynamic", False) for p in _parents(el))]
    cache.normal(sm, False)
    assert sorted(map(id, encoded)) == sorted(map(id, dynamic))  # unchanged: only lists and structures
    encoded.clear()
    speed = m.properties["Z/OperationalData/xs_double"]
    live.set_live_value(speed, 42.5, TS, 0)
    assert b'"value":"42.5"' in cache.normal(sm, False)
    assert [e for e in encoded if e not in dynamic] == [speed]


def _parents(el: Any) -> Iterator[Any]:
    node = el.parent
    while isinstance(node, model.SubmodelElement):
        yield node
        node = node.parent


async def test_the_routes_serve_it() -> None:
    repo, m, _ = zoo_model()
    app = create_app(repo, access=open_policy())
    sm = m.submodel("OperationalData")
    b64 = base64.urlsafe_b64encode(SM_ID.encode()).decode().rstrip("=")
    shell = base64.urlsafe_b64encode(b"urn:t:aas:Z").decode().rstrip("=")
    element = m.properties["Z/OperationalData/xs_int"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        for i in range(3):
            live.set_live_value(element, i, TS + i, 0)
            for url in (f"/api/v3.0/submodels/{b64}", f"/api/v3.0/shells/{shell}/submodels/{b64}",
                        f"/api/v3.0/submodels/{b64}/submodel"):
                r = await c.get(url)
                assert r.status_code == 200 and r.headers["content-type"] == "application/json", url
                assert r.content == enc.json_response(sm).body, url
            blob = await c.get(f"/api/v3.0/submodels/{b64}", params={"extent": "withBlobValue"})
            assert blob.content == enc.json_response(sm, with_blob=True).body
            core = await c.get(f"/api/v3.0/submodels/{b64}", params={"level": "core"})
            assert core.content == enc.json_response(enc.normal(sm, enc.Level.core, False)).body
