"""Fixtures for the historian tests: a real SQLite file per test, retention off unless a test turns it on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors.sample import Sample
from gateway.config import HistorianSettings, RetentionConfig
from gateway.historian import Historian
from tests.conftest import wait_for

NO_RETENTION = RetentionConfig(max_age_days=None, max_size_mb=None, check_interval_s=3600)


def make_settings(path: Path, **kw: Any) -> HistorianSettings:
    kw.setdefault("commit_interval_ms", 20)
    kw.setdefault("retention", NO_RETENTION)
    return HistorianSettings(path=path, **kw)


def sample(point: str, value: Any, ts: int, status: int = 0, **kw: Any) -> Sample:
    """A sample filed under ts (as its source timestamp, received 1 µs later)."""
    return Sample(point, value, kw.get("source_ts", ts), kw.get("server_ts"), kw.get("received_ts", ts + 1000), status)


async def poll(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 10.0, what: str = "condition") -> Any:
    return await wait_for(predicate, timeout=timeout, interval=0.01, message=what)


@pytest.fixture
def settings(tmp_path: Path) -> HistorianSettings:
    return make_settings(tmp_path / "historian.sqlite")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def historian(settings: HistorianSettings, registry: CollectorRegistry) -> AsyncIterator[Historian]:
    async with Historian(settings, registry) as h:
        yield h
