"""The connector registry: the one place the gateway learns which protocols exist.

Like Telegraf's plugins, every connector package registers itself: its `descriptor` module builds
one `ConnectorDescriptor` (type tag, config models, point model, factories, status texts,
optional capabilities) and calls `register` on import. The gateway never switches on connector
types: its config builds the `source:`/`sink:` validation from the registry
(`gateway/config/connectors.py`) and its wiring builds sources and sinks through the factories
here (`gateway/app.py`).

Discovery is explicit and cheap: the built-in descriptor modules (`BUILTIN`) are imported on the
first look-up; another connector registers by calling `register` (e.g. from a module the
deployment imports), or by naming its descriptor module under the ``aas_gateway.connectors``
entry-point group of its Python package, read only when a config names a type nobody registered.

Importing this module, and every descriptor module, must stay cheap (the CLI starts in well under
a second for commands that never collect): descriptor modules import their config models only;
protocol libraries (asyncua, paho, influxdb_client) are imported inside the factories.

Adding a connector, e.g. a Modbus source (see the README, "Adding a connector")::

    class ModbusSourceConfig(ConnectorConfig):
        type: Literal["modbus"] = "modbus"
        host: str
        port: int = 502

    class ModbusPointConfig(PointFields):
        holding_register: int

    def create(name, cfg, points, ctx):
        from my_modbus.source import ModbusSource  # the protocol library is imported here, when needed
        return ModbusSource(name, cfg, points)

    register(ConnectorDescriptor("modbus", "Modbus/TCP", source=SourceRole(
        config=ModbusSourceConfig, point=ModbusPointConfig, create=create,
        endpoint=lambda cfg: f"modbus://{cfg.host}:{cfg.port}")))
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args

from connectors.config_base import ConnectorConfig, PointFields

if TYPE_CHECKING:
    from connectors.base import ForwardSink, PointMeta, Source
    from connectors.opcua.pki import Pki

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConnectorConfig)
K = TypeVar("K", bound=ConnectorConfig)
P = TypeVar("P", bound=PointFields)

BUILTIN = ("connectors.opcua.descriptor", "connectors.mqtt.descriptor", "connectors.influx.descriptor")
ENTRY_POINT_GROUP = "aas_gateway.connectors"


@dataclass(frozen=True, slots=True)
class SourcePoint(Generic[P]):
    """One configured point, as a source factory receives it."""

    point_id: str  # "{asset}/{submodel}/{idShortPath}", carried by every Sample of the point
    value_type: str  # canonical type: xs:double, Double[], LocalizedText, Structure, Variant ...
    structured: bool  # arrays, texts, structures: the value is JSON-shaped, not a single xs: value
    writable: bool  # configured `writable: true` (writes reach the source only if it `writes`)
    fields: P  # the point's protocol fields: an instance of the descriptor's point model


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What the gateway offers every factory besides the connector's own config."""

    gateway_id: str = "urn:aas-gateway:edge"  # the gateway's IRI (e.g. MQTT status topics)
    pki: Pki | None = None  # the gateway's certificate and trust list (OPC UA secure channels)


@dataclass(frozen=True, kw_only=True)
class SourceRole(Generic[S, P]):
    """A southbound connector: an asset's `source:` of this type, and its points."""

    config: type[S]  # the `source:` block (its `type` field is a Literal of the tag)
    point: type[P]  # the protocol fields of a point (flat beside path/type/unit in the YAML)
    create: Callable[[str, S, Sequence[SourcePoint[P]], BuildContext], Source]  # (asset idShort, ...)
    endpoint: Callable[[S], str]  # where data comes from, for status displays: never credentials
    summary: Callable[[S], str] | None = None  # one line for `check-config` (default: the endpoint)
    # cross-checks of the source and its points (keys relative to the asset, e.g. "points[3].topic")
    check_asset: Callable[[S, Sequence[P]], Iterable[tuple[str, str]]] | None = None
    writes: bool = False  # the source implements connectors.base.WritableSource (PATCH $value)
    # (source, point) -> values per second the point is expected to deliver (the operation ledger's data
    # completeness); None: the source pushes when it has something, 1 per second is assumed
    expected_rate: Callable[[S, P], float] | None = None
    default: bool = False  # a `source:` without `type` is this one (OPC UA, the original source)


@dataclass(frozen=True, kw_only=True)
class SinkRole(Generic[K]):
    """A northbound connector: a forwarder's `sink:` of this type."""

    config: type[K]
    create: Callable[[str, K, Mapping[str, PointMeta], BuildContext], ForwardSink]  # (forwarder name, ...)
    endpoint: Callable[[K], str]  # where data goes, for status displays: never credentials
    # (cfg, asset idShort, AAS id) -> (endpoint, query) of an IDTA 02008 TimeSeries LinkedSegment
    linked_segment: Callable[[K, str, str], tuple[str, str]] | None = None
    # (cfg, asset idShort) -> where the sink publishes the asset's events (alarm transitions)
    events_topic: Callable[[K, str], str] | None = None


@dataclass(frozen=True)
class ConnectorDescriptor:
    """Everything the gateway needs to know of one connector type."""

    type: str  # the tag configs write as `type:` (lowercase, e.g. opcua)
    name: str  # how people call it, for texts: "OPC UA", "InfluxDB"
    source: SourceRole[Any, Any] | None = None
    sink: SinkRole[Any] | None = None
    sample_config: Path | None = None  # a commented sample config block shipped with the connector

    def __post_init__(self) -> None:
        if not self.type or not self.type.isidentifier() or self.type != self.type.lower():
            raise ValueError(f"connector type {self.type!r} must be a lowercase identifier")
        if self.source is None and self.sink is None:
            raise ValueError(f"connector {self.type!r} has neither a source nor a sink")
        for role in (self.source, self.sink):
            field = None if role is None else role.config.model_fields.get("type")
            if role is not None and (field is None or get_args(field.annotation) != (self.type,)):
                raise ValueError(f"{role.config.__name__}.type must be Literal[{self.type!r}] (the connector's tag)")
        if self.source is not None and not issubclass(self.source.point, PointFields):
            raise ValueError(f"{self.source.point.__name__} must derive from connectors.config_base.PointFields")


class UnknownConnectorError(LookupError):
    def __init__(self, type_: str, role: str) -> None:
        known = ", ".join(source_types() if role == "source" else sink_types()) or "none"
        super().__init__(f"unknown {role} type {type_!r} (known: {known})")
        self.type = type_


_registry: dict[str, ConnectorDescriptor] = {}
_generation = 0
_builtins_loaded = False
_entry_points_loaded = False


def register(descriptor: ConnectorDescriptor, *, replace: bool = False) -> ConnectorDescriptor:
    """Make a connector known; returns it (so a module can write ``DESCRIPTOR = register(...)``).

    Registering the same type twice is an error unless `replace` is set (tests swap connectors).
    """
    global _generation
    _load_builtins()
    old = _registry.get(descriptor.type)
    if old is not None and not replace and old != descriptor:
        raise ValueError(f"connector type {descriptor.type!r} is already registered ({old.name})")
    if descriptor.source is not None and descriptor.source.default:
        other = next((d for d in _registry.values() if d.type != descriptor.type and d.source and d.source.default),
                     None)
        if other is not None:
            raise ValueError(f"{descriptor.type!r} cannot be the default source: {other.type!r} is")
    _registry[descriptor.type] = descriptor
    _generation += 1
    return descriptor


def unregister(type_: str) -> None:
    """Forget a connector (tests that registered a throw-away one)."""
    global _generation
    if _registry.pop(type_, None) is not None:
        _generation += 1


def generation() -> int:
    """Changes whenever the registry does: models built from it are cached by this number."""
    _load_builtins()
    return _generation


def descriptors() -> tuple[ConnectorDescriptor, ...]:
    _load_builtins()
    return tuple(_registry[t] for t in sorted(_registry))


def find(type_: str) -> ConnectorDescriptor | None:
    """The connector registered as `type_`; an unknown type looks at installed entry points once."""
    _load_builtins()
    if type_ not in _registry:
        _load_entry_points()
    return _registry.get(type_)


def source(type_: str) -> SourceRole[Any, Any]:
    """The source role of `type_`; UnknownConnectorError if no connector provides one."""
    d = find(type_)
    if d is None or d.source is None:
        raise UnknownConnectorError(type_, "source")
    return d.source


def sink(type_: str) -> SinkRole[Any]:
    d = find(type_)
    if d is None or d.sink is None:
        raise UnknownConnectorError(type_, "sink")
    return d.sink


def source_types() -> list[str]:
    return [d.type for d in descriptors() if d.source is not None]


def sink_types() -> list[str]:
    return [d.type for d in descriptors() if d.sink is not None]


def default_source_type() -> str | None:
    """The type of a `source:` that names none."""
    return next((d.type for d in descriptors() if d.source is not None and d.source.default), None)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True  # first: the descriptor modules call register(), which comes back here
    for name in BUILTIN:
        importlib.import_module(name)


def _load_entry_points() -> None:
    """Third-party connectors named in their package metadata (read once, only when needed)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()  # importing the module registers it; a descriptor object works too
        except Exception:
            log.exception("connector entry point %s (%s) failed to load", ep.name, ep.value)
            continue
        if isinstance(loaded, ConnectorDescriptor) and loaded.type not in _registry:
            register(loaded)
