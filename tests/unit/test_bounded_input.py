"""Pure logic of issue 10: bounded JSON, lexical ValueOnly values, audit values that can always be written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from basyx.aas.model import datatypes as dt

from aas_models.valueonly import property_value_from_lexical
from gateway.api.bounded_json import MAX_DEPTH, nesting_depth, parse_json
from gateway.api.errors import BadRequest
from gateway.audit import AuditConfig, AuditLog, audit_value


@pytest.mark.parametrize(("raw", "value"), [
    (b'{"Override": 90.5}', {"Override": 90.5}),
    (b'"' + b"[" * 500 + b'"', "[" * 500),  # brackets inside a string are no nesting
    (b"1" * 100, int("1" * 100)),
    (b'"\\ud83d\\ude00"', "\U0001f600"),  # a proper surrogate pair
    (b"1e308", 1e308),
])
def test_accepted(raw: bytes, value: object) -> None:
    assert parse_json(raw) == value


@pytest.mark.parametrize(("raw", "word"), [
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),  # beyond the interpreter's recursion limit
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nested"),
    (b"1" * 101, "characters"),
    (b"9" * 5000, "characters"),  # int() refuses more than 4300 digits with a bare ValueError
    (b"1e400", "range"),
    (b"NaN", "NaN"),
    (b"-Infinity", "Infinity"),
    (b'"\\ud800"', "surrogate"),
    (b'{"\\udfff": 1}', "surrogate"),
    (b'"\xed\xa0\x80"', "UTF-8"),  # an encoded surrogate: not UTF-8
    (b"{", "not JSON"),
])
def test_refused_with_the_bound_named(raw: bytes, word: str) -> None:
    with pytest.raises(BadRequest) as e:
        parse_json(raw)
    assert e.value.status == 400 and word in e.value.text


def test_nesting_up_to_the_bound_is_accepted() -> None:
    value = parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == []


def test_nesting_depth_ignores_strings() -> None:
    assert nesting_depth(b'[{"a": "[[[[", "b": [1, [2]]}]') == 4


@pytest.mark.parametrize(("text", "value_type", "value"), [
    ("85", dt.Double, 85.0), (" 8.5e1 ", dt.Double, 85.0), ("-INF", dt.Double, float("-inf")),
    ("42", dt.Int, 42), ("+7", dt.Int, 7), ("true", dt.Boolean, True), ("0", dt.Boolean, False),
    ("1.50", dt.Decimal, dt.Decimal("1.50")), ("free text", dt.String, "free text"),
])
def test_lexical_forms_are_read(text: str, value_type: type, value: object) -> None:
    assert property_value_from_lexical(text, value_type) == value


@pytest.mark.parametrize(("text", "value_type"), [
    ("inf", dt.Double), ("1_000", dt.Double), ("1e400", dt.Double), ("0x10", dt.Int), ("4.0", dt.Int),
    ("99999999999", dt.Int), ("yes", dt.Boolean), ("9" * 5000, dt.Integer), ("1e39", dt.Float), ("", dt.Double),
])
def test_invalid_lexical_forms_are_refused(text: str, value_type: type) -> None:
    with pytest.raises(ValueError):
        property_value_from_lexical(text, value_type)


def test_audit_value_is_bounded_escaped_and_redacted() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(5000):
        child: list[object] = []
        node.append(child)
        node = child
    value = audit_value({"s": "\ud800" + "x" * 10_000_000, "n": 10**5000, "deep": deep, "password": "hunter2",
                         "l": list(range(1000))})
    text = json.dumps(value, ensure_ascii=False)
    text.encode("utf-8")  # strict: nothing unencodable is left
    assert len(text) < 12_000
    assert value["s"].startswith("\\ud800x") and value["s"].endswith("chars)")
    assert "digits" in value["n"] and value["password"] == "***"
    assert "nested too deeply" in json.dumps(value["deep"]) and value["l"][-1] == "...(+950 items)"


def test_a_record_with_anything_in_it_is_written(tmp_path: Path) -> None:
    log = AuditLog(AuditConfig(path=tmp_path / "audit.jsonl"))
    log.record(actor="apikey:k/op\udcff", source="127.0.0.1", action="write", target="sm#\ud800", result="error",
               old=float("nan"), new={"\ud800": [10**5000]}, detail="token=abc")
    log.close()
    (rec,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rec["target"] == "sm#\\ud800" and rec["detail"] == "token=***"
    assert rec["actor"] == "apikey:k/op\\udcff"  # names are escaped, never redacted
