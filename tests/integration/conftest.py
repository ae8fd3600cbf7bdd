"""Config helpers for tests on real simulators (the `machines` fixture is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from gateway.auth.apikeys import ApiKeyStore, default_keys_file
from gateway.auth.config import Role
from gateway.config import GatewayConfig, parse_config


class OpcUaPeer(Protocol):
    """An OPC UA server a test started: our simulators, or an independent stack (tests/interop)."""

    @property
    def endpoint(self) -> str: ...

    @property
    def namespace_uri(self) -> str: ...


def source(sim: OpcUaPeer, **overrides: Any) -> dict[str, Any]:
    src = {
        "type": "opcua", "endpoint": sim.endpoint, "namespace": sim.namespace_uri,
        "security": {"policy": "None", "mode": "None"},
        "publishing_interval_ms": 100, "sampling_interval_ms": 0,
        "health_check_interval_s": 1.0, "node_retry_interval_s": 1.0, "node_check_interval_s": 1.0,
        "keepalive_s": 1.0, "reconnect": {"initial_delay_s": 0.2, "max_delay_s": 1.0},
    }
    src.update(overrides)
    return src


def asset(name: str, sim: OpcUaPeer, paths: dict[str, str], **source_overrides: Any) -> dict[str, Any]:
    """An asset config for `sim`; `paths` maps simulator variable path -> xs type."""
    return {
        "id_short": name, "id": f"urn:test:aas:{name}", "global_asset_id": f"urn:test:asset:{name}",
        "source": source(sim, **source_overrides),
        "points": [{"node": f"s={p}", "path": p, "type": t} for p, t in paths.items()],
    }


def gateway_config(tmp_path: Path, *assets: dict[str, Any], api: bool = False, **historian: Any) -> GatewayConfig:
    """A config for `assets`; the REST API only when asked for, then on a free port, readable without a key
    (tests that write or administer create a key in `api-keys.json` beside the historian)."""
    hist = {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 50}
    hist.update(historian)
    api_cfg = {"enabled": api, "port": 0, "auth": {"anonymous_read": True}}
    return parse_config({"historian": hist, "api": api_cfg, "assets": list(assets)}, env={})


def api_key_headers(cfg: GatewayConfig, role: Role = "operator") -> dict[str, str]:
    """Create an API key with `role` in the gateway's key file; returns the request headers carrying it."""
    key, _ = ApiKeyStore(cfg.api.auth.api_keys_file or default_keys_file(cfg.historian.path)).create(
        f"test-{role}", role)
    return {"Authorization": f"Bearer {key}"}
