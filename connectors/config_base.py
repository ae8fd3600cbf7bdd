"""The building blocks every configuration model is made of, in one dependency-light place.

The gateway's YAML is validated by pydantic models owned by many modules: the connectors' own
settings (`connectors/*/config.py`) and the gateway's sections (`gateway/config/`, `gateway/auth`,
`gateway/kpi`, `gateway/detect`). They share three rules, defined once here (importing this module
costs pydantic and nothing else, so a connector's descriptor stays cheap to import):

* `StrictModel`: unknown keys are errors (a typo never passes silently) and a validated model is
  frozen (nothing changes a config after it was checked; `gateway.config.with_overrides` derives a
  changed one).
* `KeyedError`: a validator error that names the key it concerns, below the model that raised it,
  so a config error reads ``assets[2].points[5].pointer: ...`` rather than pointing at a whole
  mapping.
* `ConfigFile` / `ConfigPath`: a file name in the config; relative ones are relative to the config
  file's folder (the gateway resolves every field so marked when it loads the file).

Connector-facing bases: `ConnectorConfig` (a source's or sink's settings, tagged by `type`) and
`PointFields` (the protocol-specific fields of one point, e.g. OPC UA's `node`; the gateway merges
them with the fields every point has, flat in the YAML).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors; validated instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyedError(ValueError):
    """A validator error that knows the key path (relative to the model raising it) it concerns."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class RelativeToConfig:
    """Field marker: a relative file name is relative to the config file's folder."""


ConfigFile = Annotated[str, RelativeToConfig()]
"""A file the config names (certificate, key, CA bundle ...); relative = relative to the config file."""

ConfigPath = Annotated[Path, RelativeToConfig()]
"""The same, as a Path."""


class ConnectorConfig(StrictModel):
    """Settings of one source or sink; `type` is its connector's tag (`opcua`, `mqtt`, `influxdb` ...)."""

    type: str


class PointFields(StrictModel):
    """The protocol-specific fields of one point (a connector's point model derives from this).

    In the YAML they sit beside the fields every point has (`path`, `type`, `unit` ...); the gateway
    validates a point with its source's point model, so a field of another protocol is an unknown key.
    """

    def address(self) -> str | None:
        """Where the point's value comes from, as text for documentation (e.g. the OPC UA node id)."""
        return None

    def check_type(self, value_type: str, numeric: bool) -> None:
        """Raise ValueError (or KeyedError) if these fields cannot serve a point of `value_type`.

        `value_type` is the point's canonical type (xs:double, Double[], LocalizedText ...), `numeric`
        says whether it is a number type.
        """
