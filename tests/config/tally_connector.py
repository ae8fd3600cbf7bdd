"""A throw-away connector that lives outside `connectors/` and `gateway/`: proof that a protocol plugs in.

`tally` is a source whose points count up, each by its own `step`, every `interval_ms`; a write sets a
point's count (so it is a WritableSource too). Everything the gateway learns about it comes from the
descriptor registered below: config validation, building, status texts, writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Literal

from pydantic import Field

from connectors.base import ConnectionState, Emit, PointHealth, SourceHealth, WriteValueError
from connectors.config_base import ConnectorConfig, KeyedError, PointFields
from connectors.registry import BuildContext, ConnectorDescriptor, SourcePoint, SourceRole
from connectors.sample import Sample, now_ns

TAG = "tally"


class TallySourceConfig(ConnectorConfig):
    type: Literal["tally"] = "tally"
    interval_ms: float = Field(50.0, gt=0, description="time between counts")
    start: int = 0


class TallyPointConfig(PointFields):
    step: int = Field(ge=1, description="how much this point counts up by, per interval")

    def address(self) -> str | None:
        return f"tally+{self.step}"

    def check_type(self, value_type: str, numeric: bool) -> None:
        if not numeric:
            raise KeyedError("type", f"a tally point counts: it needs a numeric type, not {value_type}")


class TallySource:
    def __init__(self, name: str, cfg: TallySourceConfig, points: Sequence[SourcePoint[TallyPointConfig]]) -> None:
        self.name = name
        self.cfg = cfg
        self.steps = {p.point_id: p.fields.step for p in points}
        self.counts = dict.fromkeys(self.steps, cfg.start)
        self._health = SourceHealth(name, endpoint(cfg), points={p: PointHealth() for p in self.steps})

    async def run(self, emit: Emit) -> None:
        self._health.set_state(ConnectionState.CONNECTED, now_ns())
        try:
            while True:
                now = now_ns()
                batch = []
                for pid, step in self.steps.items():
                    self.counts[pid] += step
                    batch.append(Sample(pid, self.counts[pid], now, None, now))
                    self._health.points[pid].status = 0
                    self._health.points[pid].last_sample_ns = now
                self._health.last_sample_ns = now
                await emit(batch)
                await asyncio.sleep(self.cfg.interval_ms / 1000)
        finally:
            self._health.set_state(ConnectionState.STOPPED, now_ns())

    def health(self) -> SourceHealth:
        return self._health

    async def write(self, point_id: str, value: object, value_type: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise WriteValueError("BadTypeMismatch", f"a tally takes integers, not {value!r}")
        self.counts[point_id] = value


def create(name: str, cfg: TallySourceConfig, points: Sequence[SourcePoint[TallyPointConfig]],
           ctx: BuildContext) -> TallySource:
    return TallySource(name, cfg, points)


def endpoint(cfg: TallySourceConfig) -> str:
    return f"tally://every-{cfg.interval_ms:g}ms"


def check_asset(cfg: TallySourceConfig, points: Sequence[TallyPointConfig]) -> Iterator[tuple[str, str]]:
    seen: dict[int, int] = {}
    for i, p in enumerate(points):
        if p.step in seen:
            yield f"points[{i}].step", f"step {p.step} is already counted by points[{seen[p.step]}]"
        seen[p.step] = i


DESCRIPTOR = ConnectorDescriptor(TAG, "Tally", source=SourceRole(
    config=TallySourceConfig, point=TallyPointConfig, create=create, endpoint=endpoint,
    summary=lambda cfg: f"{endpoint(cfg)} from {cfg.start}", check_asset=check_asset, writes=True))
