"""ns_to_iso is on every API answer and MQTT payload: its cached fast path must say what datetime says."""

from __future__ import annotations

import random

from connectors.sample import ns_to_datetime, ns_to_iso


def _reference(ns: int) -> str:
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


def test_ns_to_iso_matches_datetime_everywhere() -> None:
    r = random.Random(1)
    edge = [0, 1, 999, 1000, 1_000_000_000, 10**18, -1, -1000, -10**15, -10**18,
            253402300799_999_999_000, 253402300800 * 10**9 - 1]
    spread = [r.randrange(-2 * 10**18, 4 * 10**18) for _ in range(50_000)]
    whole_seconds = [r.randrange(0, 250_000_000_000) * 10**9 for _ in range(2_000)]
    for ns in edge + spread + whole_seconds:
        assert ns_to_iso(ns) == _reference(ns), ns


def test_ns_to_iso_shape() -> None:
    assert ns_to_iso(1_714_550_400_000_000_000) == "2024-05-01T08:00:00Z"
    assert ns_to_iso(1_714_550_400_123_456_789) == "2024-05-01T08:00:00.123456Z"
