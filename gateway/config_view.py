"""What the config sections of derived data (`kpi`, `detection`) read of the whole config.

Their cross-checks (a point they name must be configured) run inside `gateway.config`'s validation,
which imports those sections' models: typing the checks with `GatewayConfig` would import
`gateway.config` back. These protocols are the few attributes the checks read instead
(`gateway.config.GatewayConfig` and `AssetConfig` satisfy them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class PointView(Protocol):
    @property
    def submodel(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def type(self) -> str: ...


class AssetView(Protocol):
    @property
    def id_short(self) -> str: ...

    @property
    def points(self) -> Sequence[PointView]: ...
