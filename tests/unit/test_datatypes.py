from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from aas_models.datatypes import canonical_value_type, coercer


@pytest.mark.parametrize(("name", "expected"), [
    ("xs:double", "xs:double"), ("Double", "xs:double"), ("UInt32", "xs:unsignedInt"), ("int32", "xs:int"),
    ("Boolean", "xs:boolean"), ("XS:DOUBLE", "xs:double"), ("DateTime", "xs:dateTime"), ("SByte", "xs:byte"),
])
def test_canonical_names(name: str, expected: str) -> None:
    assert canonical_value_type(name) == expected


def test_unknown_type_is_named_in_error() -> None:
    with pytest.raises(ValueError, match="unknown data type 'Quaternion'"):
        canonical_value_type("Quaternion")


def test_int_range_enforced() -> None:
    c = coercer("xs:unsignedByte")
    assert c(255) == 255
    with pytest.raises(TypeError, match="out of range"):
        c(256)
    with pytest.raises(TypeError):
        c(-1)
    with pytest.raises(TypeError, match="not an integer"):
        coercer("xs:int")(1.5)


def test_bool_and_float_and_datetime() -> None:
    assert coercer("xs:boolean")("true") is True
    assert coercer("xs:boolean")(0) is False
    with pytest.raises(TypeError):
        coercer("xs:boolean")("maybe")
    assert coercer("xs:double")(3) == 3.0 and isinstance(coercer("xs:double")(3), float)
    with pytest.raises(ValueError):
        coercer("xs:double")("abc")
    dt = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert coercer("xs:dateTime")(dt) == "2026-01-02T03:04:05.123000Z"


@given(hs.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_int_roundtrip(v: int) -> None:
    assert coercer("xs:int")(v) == v
    assert coercer("xs:int")(str(v)) == v
