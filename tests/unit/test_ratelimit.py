"""The rate-limited log: one line per cause per interval, with a count that adds up to every occurrence."""

from __future__ import annotations

import logging
import re

import pytest

from connectors.ratelimit import RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _counts(records: list[logging.LogRecord]) -> list[int]:
    return [int(re.search(r"\[(\d+) occurrence", r.getMessage()).group(1)) for r in records]  # type: ignore[union-attr]


@pytest.fixture
def logger(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.INFO, logger="test.ratelimit")
    return logging.getLogger("test.ratelimit")


def test_first_occurrence_at_once_then_one_line_per_interval_with_the_count(
        logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    rl = RateLimitedLog(logger, 60.0, clock=clock)
    rl.error("disk", "cannot store %s", "a")
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.ERROR
    assert caplog.records[0].getMessage().startswith("cannot store a [1 occurrence(s); repeats are counted")
    for i in range(999):  # a burst: nothing more is said within the interval
        clock.t += 0.01
        rl.error("disk", "cannot store %s", f"v{i}")
        rl.flush()
    assert len(caplog.records) == 1
    clock.t += 60
    rl.flush()  # the interval is over: the count comes out, with the latest message
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage().startswith("cannot store v998 [999 occurrence(s) in the last")
    rl.flush(force=True)
    assert len(caplog.records) == 2, "nothing left to say"
    assert sum(_counts(caplog.records)) == 1000


def test_causes_are_independent_and_counts_add_up(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    rl = RateLimitedLog(logger, 10.0, clock=clock)
    sent = {"a": 0, "b": 0}
    for _ in range(300):  # 30 s of 10 occurrences/s of each cause, in batches
        clock.t += 0.1
        for cause in sent:
            rl.warning(cause, "problem %s", cause, count=3)
            sent[cause] += 3
        rl.flush()
    rl.flush(force=True)
    for cause, n in sent.items():
        lines = [r for r in caplog.records if r.getMessage().startswith(f"problem {cause} ")]
        assert sum(_counts(lines)) == n
        assert 3 <= len(lines) <= 5, "about one line per 10 s over 30 s"


def test_a_cause_that_returns_after_a_quiet_interval_is_said_at_once(
        logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    rl = RateLimitedLog(logger, 60.0, clock=clock)
    rl.warning("x", "x happened")
    clock.t += 600
    rl.warning("x", "x happened")
    assert len(caplog.records) == 2 and _counts(caplog.records) == [1, 1]


def test_too_many_causes_are_folded_into_one_line(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    rl = RateLimitedLog(logger, 60.0, max_causes=5, clock=clock)
    for i in range(1000):
        rl.warning(("point", i), "point %d is bad", i)
    assert len(caplog.records) == 6, "five causes, then one line for all the others"
    assert "more than 5 causes" in caplog.records[-1].getMessage()
    rl.flush(force=True)
    assert sum(_counts(caplog.records)) == 1000


def test_percent_signs_in_messages_are_safe(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    rl = RateLimitedLog(logger, 60.0, clock=Clock())
    rl.warning("p", "100% full")
    rl.warning("q", "%s%% full", 100)
    assert [r.getMessage().split(" [")[0] for r in caplog.records] == ["100% full", "100% full"]
