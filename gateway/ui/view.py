"""What the dashboard reads of a running gateway (`gateway.app.Gateway` satisfies it).

A protocol rather than the Gateway class itself: the gateway builds the dashboard, so typing the
dashboard with `Gateway` would make `gateway.ui` and `gateway.app` import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from basyx.aas.model import SubmodelElement

from aas_models.builder import AssetModel
from connectors.base import Source, SourceHealth
from gateway.audit import AuditLog
from gateway.config import GatewayConfig
from gateway.derived import Producer
from gateway.forwarder import Forwarder
from gateway.historian import Historian
from gateway.pipeline import Pipeline


class GatewayView(Protocol):
    @property
    def cfg(self) -> GatewayConfig: ...

    @property
    def models(self) -> Mapping[str, AssetModel]: ...

    @property
    def producers(self) -> Sequence[Producer]: ...

    @property
    def derived_elements(self) -> Mapping[str, SubmodelElement]: ...

    @property
    def sources(self) -> Mapping[str, Source]: ...

    @property
    def forwarders(self) -> Sequence[Forwarder]: ...

    @property
    def historian(self) -> Historian: ...

    @property
    def pipeline(self) -> Pipeline: ...

    @property
    def audit(self) -> AuditLog: ...

    def health(self) -> list[SourceHealth]: ...
