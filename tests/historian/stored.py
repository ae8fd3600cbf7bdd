"""What the forwarders read, as flat rows: a test helper over `Historian.read_records`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.sample import Sample
from gateway.historian import Historian


@dataclass(frozen=True, slots=True)
class StoredSample:
    """A committed sample in ``seq`` order, with its point id."""

    seq: int
    point: str
    ts: int
    value: Any
    status: int
    source_ts: int | None
    server_ts: int | None
    recv_ts: int
    flags: int = 0

    def to_sample(self) -> Sample:
        return Sample(self.point, self.value, self.source_ts, self.server_ts, self.recv_ts, self.status, self.flags)


async def read_since(h: Historian, seq: int, limit: int) -> list[StoredSample]:
    """Committed samples with a seq greater than ``seq``, in seq order, at most ``limit``, with their flags
    (the forwarders' batches leave the flags out: no sink sends them)."""
    flags = dict(await h.select("SELECT seq, flags FROM samples WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)))
    return [StoredSample(r.seq, s.point, s.ts, s.value, s.status, s.source_ts, s.server_ts, s.received_ts,
                         flags[r.seq])
            for r in await h.read_records(seq, limit) for s in (r.sample,)]
