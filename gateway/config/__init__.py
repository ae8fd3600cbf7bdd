"""The gateway's one YAML configuration file: validated, resolved once, immutable.

Every error names the file, the key path (``assets[2].points[5].node``) and what is wrong, so an
integrator can fix a config without reading code. What connectors exist, and so what an asset's
`source:`, its points' protocol fields and a forwarder's `sink:` may hold, comes from the
connector registry (`connectors.registry`), never from a list in here.

Modules: `models` (the sections, frozen pydantic models; an asset's in `assets`), `connectors` (validation by the
registered connectors' models), `paths` (every path resolved by one set of rules), `overrides`
(deriving a changed config), `loading` (YAML, secrets, `load_config`), `errors`.

Public API::

    load_config(path, env=None) -> GatewayConfig              # read, validate, resolve: final and frozen
    parse_config(data, file="<config>", env=None, config_dir=None) -> GatewayConfig
    with_overrides(cfg, {"api.port": 0, ...}) -> GatewayConfig  # the one way to derive a changed config
    source_endpoint(asset.source), source_summary(asset.source) -> str   # status texts, no credentials
    ConfigError (.issues: list[ConfigIssue(key, message)], .report())
"""

from gateway.config.assets import AssetConfig, NameplateAddress, NameplateConfig, PointConfig
from gateway.config.errors import ConfigError, ConfigIssue, format_loc
from gateway.config.loading import load_config, parse_config, with_overrides
from gateway.config.models import (
    ApiConfig,
    ConfigOrigin,
    ForwarderConfig,
    GatewayConfig,
    GatewayIdentity,
    HistorianSettings,
    LoggingConfig,
    RetentionConfig,
    source_endpoint,
    source_summary,
)

__all__ = [
    "ApiConfig", "AssetConfig", "ConfigError", "ConfigIssue", "ConfigOrigin", "ForwarderConfig", "GatewayConfig",
    "GatewayIdentity", "HistorianSettings", "LoggingConfig", "NameplateAddress", "NameplateConfig", "PointConfig",
    "RetentionConfig", "format_loc", "load_config", "parse_config", "source_endpoint", "source_summary",
    "with_overrides",
]
