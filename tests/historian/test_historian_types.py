"""Every point type's values come back from the historian as they went in (REST history, forwarders)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aas_models.datatypes import canonical_value_type, coercer
from gateway.historian import Historian
from tests.historian.conftest import sample
from tests.historian.stored import read_since

T0 = 1_700_000_000_000_000_000


class Described(dict[str, Any]):
    field_types: dict[str, str]


def described(values: dict[str, Any], types: dict[str, str]) -> Described:
    d = Described(values)
    d.field_types = types
    return d


# config type, raw reading; what is stored is the pipeline's coerced value and must come back equal
KINDS: list[tuple[str, Any]] = [
    ("ByteString", b"\x00\x01\xfe"),
    ("Guid", uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63")),
    ("NodeId", "ns=2;s=Line.Speed"),
    ("QualifiedName", "2:Tool"),
    ("StatusCode", 0x80340000),
    ("XmlElement", "<a/>"),
    ("LocalizedText", "Bereit"),
    ("Double[]", [1.5, float("nan"), float("-inf")]),
    ("Int64[][]", [[1, 2**62], [3, 4]]),
    ("UInt64[]", [2**64 - 1, 0]),
    ("ByteString[]", [b"\x01", b""]),
    ("String[]", []),
    ("LocalizedText[]", ["a", "b"]),
    ("Structure", described({"Speed": 1.5, "Tool": described({"Id": 7}, {"Id": "UInt32"}), "Pos": [1.0, 2.0],
                             "Label": "x", "Blob": b"\x02", "Missing": None},
                            {"Speed": "Double", "Tool": "Structure", "Pos": "Double[]", "Label": "LocalizedText",
                             "Blob": "ByteString", "Missing": "Int32"})),
    ("Structure[]", [{"a": 1}, {"a": 2}]),
    ("Variant", 1.5),
    ("DataValue", {"Value": {"Type": "Int32", "Value": 5}, "StatusCode": 0}),
]


@pytest.mark.parametrize(("type_name", "raw"), KINDS, ids=[k[0] for k in KINDS])
async def test_every_kind_reads_back_equal(historian: Historian, type_name: str, raw: Any) -> None:
    canonical = canonical_value_type(type_name)
    value = coercer(canonical)(raw)
    await historian.register_series("zoo/Op/X", canonical, None)
    await historian.append([sample("zoo/Op/X", value, T0)])
    await historian.flush()
    (row,) = await historian.query("zoo", "Op", "X")
    assert row.value == value
    if isinstance(value, bytes):
        assert type(row.value) is bytes  # a BLOB, not text
    (stored,) = await read_since(historian, 0, 10)  # what the forwarders read
    assert stored.value == value
    batch = await historian.read_batch(0, 10)  # and their fast path
    assert batch[0].sample.value == value
