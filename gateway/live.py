"""The live AAS model as a pipeline sink, and the status submodels kept fresh.

Every sample updates its point's element in place (value, source timestamp, quality)
on the event loop, where the API handlers read it: no locks, no copies. The
per-asset GatewayStatus submodel mirrors the connector's health once a second,
so an MES sees data freshness and a lost connection through the AAS itself, and
what the historian committed or refused of the asset's samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from basyx.aas import model

from aas_models.builder import AssetModel
from aas_models.live import attach
from connectors.base import Source, SourceHealth
from connectors.sample import Sample
from gateway.historian.records import WriteCounts


class LiveModelSink:
    name = "live-model"

    def __init__(self, properties: Mapping[str, model.SubmodelElement]) -> None:
        # one resolved handle per point (its element and live qualifiers), made once (see aas_models.live.Live)
        self._live = {pid: attach(el) for pid, el in properties.items()}

    async def put(self, samples: Sequence[Sample]) -> None:
        live = self._live
        for s in samples:
            h = live.get(s.point)
            if h is not None:
                h.set(s.value, s.ts, s.status)


def _show(m: AssetModel, h: SourceHealth) -> None:
    m.status.update(state=h.state.value, state_since_ns=h.state_since_ns, last_sample_ns=h.last_sample_ns,
                    bad_points=h.bad_points, connects=h.connects, last_error=h.last_error)


def refresh_status(models: Mapping[str, AssetModel], sources: Mapping[str, Source],
                   counts: Callable[[str], WriteCounts] | None = None) -> None:
    """Source health, and (with `counts`, the historian's per-asset WriteCounts) storage, into each status submodel."""
    for name, m in models.items():
        source = sources.get(name)
        if source is not None:
            _show(m, source.health())
        if counts is not None:
            c = counts(name)
            m.status.update_storage(c.committed, c.dead_lettered, c.lost, c.last_refusal)


def follow_state_changes(models: Mapping[str, AssetModel], sources: Mapping[str, Source]) -> None:
    """Show connection-state transitions in the status submodel the moment they happen."""
    for name, m in models.items():
        source = sources.get(name)
        if source is not None:
            source.health().on_state_change = lambda h, m=m: _show(m, h)
