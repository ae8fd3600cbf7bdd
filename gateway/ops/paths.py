"""The files `backup`, `restore`, `report operation` and `audit verify` work on, ledger included.

They run from cron or an admin's shell, where the environment variables the sources' passwords come
from are usually not set; so the config is loaded without its secrets, and resolved by the one set of
rules (`gateway/config/paths.py`). The ledger is always ``ledger/`` beside the historian.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.config.paths import in_data_dir
from gateway.ops.ledger_config import ledger_path


class PathsError(ValueError):
    """The config file cannot be read for its paths."""


@dataclass(frozen=True)
class GatewayPaths:
    config: Path | None
    historian: Path
    audit: Path  # the current audit file
    pki: Path
    keys: Path
    ledger: Path  # the current ledger file
    gateway_name: str = "aas-edge-gateway"
    ledger_tz: str = "UTC"

    @property
    def data_dir(self) -> Path:
        return self.historian.parent


def from_config(config: Path) -> GatewayPaths:
    """The files of the gateway `config` describes, resolved as the gateway resolves them (gateway.config),
    without its secrets (see `load_config(secrets=False)`)."""
    from gateway.config import ConfigError, load_config

    try:
        cfg = load_config(config, secrets=False)
    except ConfigError as e:
        raise PathsError(e.report()) from None
    historian = cfg.historian.path
    keys = cfg.api.auth.api_keys_file or in_data_dir(historian.parent).keys_file
    return GatewayPaths(Path(config).resolve(), historian, cfg.audit.path, cfg.pki.path, keys,
                        ledger_path(historian.parent), cfg.gateway.name, cfg.ledger.timezone)


def from_data_dir(data_dir: Path) -> GatewayPaths:
    """The default layout of a data directory (everything beside the historian: gateway.config.paths)."""
    d = Path(data_dir).resolve()
    layout = in_data_dir(d)
    return GatewayPaths(None, layout.historian, layout.audit, layout.pki, layout.keys_file, ledger_path(d))
