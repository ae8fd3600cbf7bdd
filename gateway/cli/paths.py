"""Where a gateway keeps its files, from a config or from explicit paths: one rule for every command.

A gateway's data directory holds the historian, the OPC UA PKI folder, the API key file and the audit
log side by side (each can be moved by the config):

    historian.sqlite   pki/   api-keys.json   audit/audit.jsonl

With `-c FILE` every path is the one the running gateway uses (`load_config` resolves them,
relative to the config file). Without a config, a command is given one path (`--db`, `--pki-dir`,
`--keys-file`) and finds the others in that path's data directory; `--audit-file` always wins.
So `pki --pki-dir demo-data/pki trust ...` is audited in `demo-data/audit/audit.jsonl`, exactly where
the demo gateway writes its own audit records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import paths as config_paths

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

@dataclass(frozen=True)
class DataPaths:
    """The files of one gateway. `config` is set when they come from a config file."""

    historian: Path
    pki: Path
    keys_file: Path
    audit: Path
    config: GatewayConfig | None = None


def in_data_dir(data_dir: Path) -> DataPaths:
    """The default layout inside one data directory (`gateway.config.paths`, where the config resolves it)."""
    layout = config_paths.in_data_dir(data_dir)
    return DataPaths(layout.historian, layout.pki, layout.keys_file, layout.audit)


def of_config(cfg: GatewayConfig) -> DataPaths:
    """The paths a gateway running `cfg` uses (the config as `load_config` returned it: paths resolved)."""
    keys = cfg.api.auth.api_keys_file
    if keys is None:  # a config validated but not resolved (parse_config without a folder)
        keys = in_data_dir(cfg.historian.path.parent).keys_file
    return DataPaths(cfg.historian.path, cfg.pki.path, keys, cfg.audit.path, cfg)


def explicit(*, db: str | None = None, pki_dir: str | None = None, keys_file: str | None = None,
             audit_file: str | None = None) -> DataPaths:
    """Paths named on the command line; the others from the data directory of the first one given."""
    if db:
        base = in_data_dir(Path(db).parent)
    elif pki_dir:
        base = in_data_dir(Path(pki_dir).parent)
    elif keys_file:
        base = in_data_dir(Path(keys_file).parent)
    elif audit_file:
        base = in_data_dir(Path(audit_file).parent.parent)
    else:
        raise ValueError("name a config or at least one path")
    return DataPaths(Path(db) if db else base.historian, Path(pki_dir) if pki_dir else base.pki,
                     Path(keys_file) if keys_file else base.keys_file,
                     Path(audit_file) if audit_file else base.audit)


def resolve(config: str | None = None, *, db: str | None = None, pki_dir: str | None = None,
            keys_file: str | None = None, audit_file: str | None = None, hint: str | None = None) -> DataPaths | None:
    """The paths a command works on: a config's (an explicitly named path overrides its entry), or the
    explicit ones. None after printing a config's problems (and `hint`, e.g. which flag avoids the config)."""
    if not config:
        return explicit(db=db, pki_dir=pki_dir, keys_file=keys_file, audit_file=audit_file)
    from gateway.cli.common import load_config_or_report

    cfg = load_config_or_report(config, hint)
    if cfg is None:
        return None
    p = of_config(cfg)
    return DataPaths(Path(db) if db else p.historian, Path(pki_dir) if pki_dir else p.pki,
                     Path(keys_file) if keys_file else p.keys_file, Path(audit_file) if audit_file else p.audit, cfg)
