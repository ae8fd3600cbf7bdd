"""Routes samples from sources to their consumers; owns no protocol and no storage.

The pipeline does the protocol-independent work once per sample: it coerces
each value to the point's declared AAS value type (a reading that does not
fit becomes a BadTypeMismatch sample: the point goes bad, nothing else does),
counts, and hands the batch to every `SampleConsumer` in order (the historian,
the live model, the derived-data producers). Consumers apply backpressure by
awaiting, which slows the sources rather than dropping data.

Not to be confused with `connectors.base.ForwardSink`: a forwarder's peer (InfluxDB,
MQTT), fed later from the historian by a cursor, never by the pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

from aas_models.datatypes import coercer
from connectors import status as st
from connectors.ratelimit import RateLimitedLog
from connectors.sample import Sample

log = logging.getLogger(__name__)


class SampleConsumer(Protocol):
    """Takes every batch the pipeline routes, in order, as it arrives (awaiting is backpressure)."""

    name: str

    async def put(self, samples: Sequence[Sample]) -> None: ...


@dataclass(frozen=True, slots=True)
class PointInfo:
    point_id: str
    asset: str
    submodel: str
    path: str
    value_type: str
    unit: str | None = None


class Pipeline:
    def __init__(self, points: Sequence[PointInfo], registry: CollectorRegistry | None = None) -> None:
        self.points = {p.point_id: p for p in points}
        self._coerce: dict[str, Callable[[Any], Any]] = {p.point_id: coercer(p.value_type) for p in points}
        self._consumers: list[SampleConsumer] = []
        # one line per point per minute with a count; past 100 points at once the rest share one line
        self._type_log = RateLimitedLog(log)
        registry = registry if registry is not None else CollectorRegistry()
        self._m_samples = Counter("gateway_samples", "Samples received from the sources and routed to the sinks "
                                  "(what was stored: gateway_historian_rows_written)", ["quality"],
                                  registry=registry)
        self._m_good = self._m_samples.labels("good")
        self._m_uncertain = self._m_samples.labels("uncertain")
        self._m_bad = self._m_samples.labels("bad")
        self.samples_total = 0

    def add_point(self, info: PointInfo) -> None:
        """A point not in the config (a derived point, see gateway/derived.py); before the first sample of it."""
        if info.point_id in self.points:
            raise ValueError(f"point {info.point_id!r} is defined twice")
        self.points[info.point_id] = info
        self._coerce[info.point_id] = coercer(info.value_type)

    def add_consumer(self, consumer: SampleConsumer) -> None:
        """Consumers get each batch in the order they were added (the historian first: durable, then visible)."""
        self._consumers.append(consumer)

    async def publish(self, samples: Sequence[Sample]) -> None:
        coerce = self._coerce
        bad_mask, uncertain_mask = st.BAD_MASK, st.UNCERTAIN_MASK  # locals: this loop runs for every sample
        good = uncertain = bad = 0
        for i, s in enumerate(samples):
            status = s.status
            if status & bad_mask:
                bad += 1
                continue
            if status & uncertain_mask:
                uncertain += 1
            else:
                good += 1
            if s.value is None:
                continue
            try:
                v = coerce[s.point](s.value)
            except KeyError:
                raise ValueError(f"sample for unknown point {s.point!r}") from None
            except (TypeError, ValueError, OverflowError) as e:
                if status & uncertain_mask:
                    uncertain -= 1
                else:
                    good -= 1
                bad += 1
                self._type_log.warning(s.point, "point %s: value %r does not fit %s (%s); stored as BadTypeMismatch",
                                       s.point, s.value, self.points[s.point].value_type, e)
                if not isinstance(samples, list):
                    samples = list(samples)
                samples[i] = Sample(s.point, None, s.source_ts, s.server_ts, s.received_ts, st.BAD_TYPE_MISMATCH,
                                    s.flags)
                continue
            if v is not s.value:
                s.value = v
        self._m_good.inc(good)
        if uncertain:
            self._m_uncertain.inc(uncertain)
        if bad:
            self._m_bad.inc(bad)
        self.samples_total += len(samples)
        self._type_log.flush()
        for consumer in self._consumers:
            await consumer.put(samples)

    def flush_log(self) -> None:
        """Say the counts of repeated problems not yet logged (at shutdown)."""
        self._type_log.flush(force=True)
