# mypy: disable-error-code="arg-type"
"""A timestamp that is no time never costs a sample: it becomes absent and the sample is flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asyncua import ua

from connectors.opcua.values import to_sample
from connectors.sample import (
    FLAG_SERVER_TS_INVALID,
    FLAG_SOURCE_TS_INVALID,
    MAX_AHEAD_NS,
    datetime_to_ns,
    flag_names,
    plausible_ns,
    timestamp_ns,
)

RECEIVED = 1_796_112_000 * 10**9  # 2026-12-01T08:00:00Z
GOOD_TIME = datetime(2026, 12, 1, 7, 59, 59, 123456, tzinfo=UTC)
NULL_TIME = ua.win_epoch_to_datetime(0)  # what asyncua makes of OPC UA's null DateTime (0): 1601-01-01
MAX_TIME = ua.win_epoch_to_datetime(2**63 - 1)  # OPC UA's "no end" DateTime: 9999-12-31


@pytest.mark.parametrize("dt, ok", [
    (GOOD_TIME, True),
    (GOOD_TIME + timedelta(days=300), True),  # a clock months off is still a clock
    (datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), True),
    (NULL_TIME, False),
    (MAX_TIME, False),
    (datetime(1970, 1, 1, tzinfo=UTC), False),  # the Unix null time
    (datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), False),
    (datetime(1, 1, 1, tzinfo=UTC), False),
    (GOOD_TIME + timedelta(days=366), False),
])
def test_timestamp_rule(dt: datetime, ok: bool) -> None:
    assert timestamp_ns(dt, RECEIVED) == (datetime_to_ns(dt) if ok else None)


def test_rule_boundaries_in_ns() -> None:
    assert datetime_to_ns(datetime(2026, 12, 1, 8, 0, tzinfo=UTC)) == RECEIVED
    assert plausible_ns(None, RECEIVED) is None
    assert plausible_ns(1, RECEIVED) == 1
    assert plausible_ns(0, RECEIVED) is None and plausible_ns(-1, RECEIVED) is None
    assert plausible_ns(RECEIVED + MAX_AHEAD_NS, RECEIVED) == RECEIVED + MAX_AHEAD_NS
    assert plausible_ns(RECEIVED + MAX_AHEAD_NS + 1, RECEIVED) is None


def _dv(source: datetime | None, server: datetime | None, value: float = 3.5) -> ua.DataValue:
    return ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=source, ServerTimestamp=server)


def test_null_source_time_keeps_the_value_files_it_under_server_time_and_flags_it() -> None:
    s = to_sample("M/Op/T", _dv(NULL_TIME, GOOD_TIME), RECEIVED)
    assert s.value == 3.5 and s.status == 0
    assert s.source_ts is None and s.server_ts == datetime_to_ns(GOOD_TIME) and s.ts == s.server_ts
    assert s.flags == FLAG_SOURCE_TS_INVALID and flag_names(s.flags) == ["SourceTimestampInvalid"]


def test_both_times_bad_files_under_receive_time() -> None:
    s = to_sample("M/Op/T", _dv(datetime(1969, 7, 20, tzinfo=UTC), MAX_TIME), RECEIVED)
    assert (s.value, s.source_ts, s.server_ts, s.ts) == (3.5, None, None, RECEIVED)
    assert s.flags == FLAG_SOURCE_TS_INVALID | FLAG_SERVER_TS_INVALID
    assert flag_names(s.flags) == ["SourceTimestampInvalid", "ServerTimestampInvalid"]


def test_absent_times_are_not_flagged_and_good_times_are_exact() -> None:
    s = to_sample("M/Op/T", _dv(None, None), RECEIVED)
    assert (s.source_ts, s.server_ts, s.flags) == (None, None, 0)
    s = to_sample("M/Op/T", _dv(GOOD_TIME, GOOD_TIME), RECEIVED)
    assert s.source_ts == s.server_ts == 1_796_111_999_123_456_000 and s.flags == 0


def test_unknown_flag_bits_are_named_in_hex() -> None:
    assert flag_names(0) == []
    assert flag_names(FLAG_SERVER_TS_INVALID | 0x100) == ["ServerTimestampInvalid", "0x100"]
