"""Derived data: producers that compute samples from samples (KPI engine, detectors, ...).

The architecture publishes derived values (KPIs, anomaly scores, predictions, alarms) back into the
pipeline as samples of *derived points*. They are then stored, forwarded, served and given history
exactly like machine readings, and a closed period can be recomputed from the historian. This module
defines the one contract every producer follows and how the gateway wires it in, so that a new kind
of derived data adds a package and one factory, not changes all over the gateway.

A producer:
- declares its derived points up front (`points()`), so the historian, the forwarders' metadata and
  the pipeline's type coercion know them before the first sample;
- contributes the AAS submodels that show them (`models()`), with the Property each point updates;
- sees every sample the pipeline routes (`put`, after the historian and the live model), including
  derived ones, and must ignore what it does not consume; `put` must not emit (no re-entrant publish);
- emits its derived samples from `run(emit)`, its own loop, until cancelled;
- if it declares writable points, implements `write(point_id, value, value_type)` like a writable
  source (connectors.base.WritableSource): the API's write path and audit log are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from basyx.aas import model

from connectors.base import Emit
from connectors.sample import Sample

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.historian import Historian


@dataclass(frozen=True)
class DerivedPoint:
    """A point whose samples a producer computes; same id scheme as configured points."""

    point_id: str  # "{asset}/{submodel}/{idShortPath}"
    asset: str  # idShort of the asset (its shell gets the submodel)
    submodel: str  # idShort of the submodel
    path: str  # idShortPath inside it
    value_type: str  # canonical xs: type
    unit: str | None = None
    semantic_id: str | None = None
    # an operator/MES input (e.g. a downtime reason): `PATCH $value` on its Property reaches the
    # producer's `write(point_id, value, value_type)` (connectors.base.WritableSource), audited like any write
    writable: bool = False
    # its values are event messages (JSON objects as text, e.g. an alarm transition): forwarders that know
    # events send them as such (MQTT: the asset's `$events` topic, see connectors/mqtt/topics.py)
    event: bool = False


@dataclass
class DerivedModel:
    """Submodels a producer adds to one asset's shell, and the live Property of each derived point."""

    asset: str  # idShort of the asset
    submodels: Sequence[model.Submodel]
    properties: Mapping[str, model.Property] = field(default_factory=dict)  # point_id -> Property


class Producer(Protocol):
    name: str

    def points(self) -> Sequence[DerivedPoint]: ...

    def models(self) -> Sequence[DerivedModel]: ...

    async def put(self, samples: Sequence[Sample]) -> None: ...

    async def run(self, emit: Emit) -> None: ...


# A factory builds the producers a config asks for; it gets the historian to read history from
# (e.g. to resume a shift after a restart). Packages register theirs with `register_factory`.
ProducerFactory = Callable[["GatewayConfig", "Historian"], Sequence[Producer]]

_FACTORIES: list[ProducerFactory] = []


def register_factory(factory: ProducerFactory) -> ProducerFactory:
    """Add a producer factory (usable as a decorator); registering the same one twice is a no-op."""
    if factory not in _FACTORIES:
        _FACTORIES.append(factory)
    return factory


def unregister_factory(factory: ProducerFactory) -> None:
    """Remove a factory (tests that plug in a throw-away producer clean up with it)."""
    if factory in _FACTORIES:
        _FACTORIES.remove(factory)


def build_producers(cfg: GatewayConfig, historian: Historian) -> list[Producer]:
    """Every producer the registered factories build for this config, in registration order."""
    return [p for factory in list(_FACTORIES) for p in factory(cfg, historian)]
