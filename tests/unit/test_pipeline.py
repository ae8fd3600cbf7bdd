"""The pipeline's per-sample problem (a value that does not fit its point) is logged per point per interval."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import pytest

from connectors import status as st
from connectors.sample import FLAG_SOURCE_TS_INVALID, Sample
from gateway.pipeline import Pipeline, PointInfo


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    async def put(self, samples: Sequence[Sample]) -> None:
        self.samples.extend(samples)


async def test_type_mismatch_is_stored_bad_and_logged_once_per_point_with_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.pipeline")
    p = Pipeline([PointInfo("M/Op/N", "M", "Op", "N", "xs:int"), PointInfo("M/Op/D", "M", "Op", "D", "xs:double")])
    sink = Collect()
    p.add_consumer(sink)
    for i in range(100):  # a string where an int belongs, 10 samples per batch, plus good doubles
        await p.publish([Sample("M/Op/N", f"text{i * 10 + k}", i, None, i, 0, FLAG_SOURCE_TS_INVALID)
                         for k in range(10)] + [Sample("M/Op/D", 1.5, i, None, i)])
    assert len(sink.samples) == 1100, "nothing dropped"
    bad = [s for s in sink.samples if s.point == "M/Op/N"]
    assert all(s.status == st.BAD_TYPE_MISMATCH and s.value is None for s in bad)
    assert all(s.flags == FLAG_SOURCE_TS_INVALID for s in bad), "the flags travel with the sample"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("point M/Op/N: value 'text0' does not fit xs:int")
    p.flush_log()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "text999" in lines[1]
    counts = [re.search(r"\[(\d+) occurrence", m) for m in lines]
    assert sum(int(c.group(1)) for c in counts if c) == 1000
