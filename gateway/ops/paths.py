"""Where a gateway keeps its files, from its config file, without resolving its secrets.

`backup`, `restore`, `report operation` and `audit verify` run from cron or an admin's shell, where
the environment variables the sources' passwords come from are usually not set; so only the path
keys are read from the YAML, with the same rules as `gateway.config.load_config`: a relative path is
relative to the config file; the audit log, the PKI folder and the API key file default to
``audit/audit.jsonl``, ``pki/`` and ``api-keys.json`` beside the historian, the ledger is always
``ledger/`` there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connectors.opcua.pki import PkiConfig
from gateway.audit import AuditConfig
from gateway.auth.apikeys import default_keys_file
from gateway.ops.ledger_config import LedgerConfig, ledger_path

DEFAULT_HISTORIAN = "data/historian.sqlite"


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


def _section(doc: dict[str, Any], key: str) -> dict[str, Any]:
    v = doc.get(key) or {}
    return v if isinstance(v, dict) else {}


def from_config(config: Path) -> GatewayPaths:
    try:
        with open(config, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise PathsError(f"cannot read {config}: {e}") from None
    doc = doc if isinstance(doc, dict) else {}
    base = Path(config).resolve().parent
    historian = base / Path(_section(doc, "historian").get("path", DEFAULT_HISTORIAN))
    try:
        audit = AuditConfig.model_validate(_section(doc, "audit")).resolved(base, historian).path
        pki_cfg = PkiConfig.model_validate(_section(doc, "pki"))
        ledger = LedgerConfig.model_validate(_section(doc, "ledger"))
    except ValueError as e:
        raise PathsError(f"{config}: {e}") from None
    pki = pki_cfg.beside(historian).path
    pki = pki if pki.is_absolute() else base / pki
    keys_value = _section(_section(doc, "api"), "auth").get("api_keys_file")
    keys = (base / Path(keys_value)) if keys_value else default_keys_file(historian)
    name = _section(doc, "gateway").get("name", "aas-edge-gateway")
    return GatewayPaths(Path(config).resolve(), historian, audit, pki, keys, ledger_path(historian.parent),
                        str(name), ledger.timezone)


def from_data_dir(data_dir: Path) -> GatewayPaths:
    """The default layout of a data directory (everything beside the historian)."""
    d = Path(data_dir).resolve()
    historian = d / "historian.sqlite"
    return GatewayPaths(None, historian, d / "audit" / "audit.jsonl", d / "pki", default_keys_file(historian),
                        ledger_path(d))
