"""Helpers for detection tests: a gateway config with a detection section for a simulated machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig, parse_config
from simulators.server import MachineServer
from tests.integration.conftest import asset, source

CNC_POINTS = {"Machine.State": "xs:string", "Spindle.Speed": "xs:double", "Spindle.Load": "xs:double",
              "Coolant.Temperature": "xs:double", "Tool.Wear": "xs:double"}


def detect_config(tmp_path: Path, sim: MachineServer, detection: dict[str, Any], *, api: bool = False,
                  forwarders: list[dict[str, Any]] | None = None, name: str = "CNC01",
                  points: dict[str, str] | None = None) -> GatewayConfig:
    a = asset(name, sim, points or CNC_POINTS)
    a["source"] = source(sim)
    doc: dict[str, Any] = {
        "historian": {"path": str(tmp_path / "historian.sqlite"), "commit_interval_ms": 50},
        "api": {"enabled": api, "port": 0, "auth": {"anonymous_read": True}},
        "assets": [a], "detection": detection,
    }
    if forwarders:
        doc["forwarders"] = forwarders
    return parse_config(doc, env={})
