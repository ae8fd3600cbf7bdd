"""Asset specs of deploy/example-config.yaml, read with PyYAML (no gateway import)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aas_models.datatypes import canonical_value_type
from aas_models.spec import AssetSpec, PointSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "example-config.yaml"


def example_specs() -> list[AssetSpec]:
    cfg = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    specs = []
    for a in cfg["assets"]:
        points = []
        for p in a["points"]:
            sm = p.get("submodel", "OperationalData")
            points.append(
                PointSpec(
                    point_id=f"{a['id_short']}/{sm}/{p['path']}",
                    submodel=sm,
                    path=p["path"],
                    value_type=canonical_value_type(p["type"]),
                    unit=p.get("unit"),
                    semantic_id=p.get("semantic_id"),
                    description=p.get("description"),
                    writable=p.get("writable", False),
                    source_address=p.get("node") or p.get("browse_path"),
                )
            )
        specs.append(
            AssetSpec(
                id=a["id"],
                id_short=a["id_short"],
                global_asset_id=a["global_asset_id"],
                points=tuple(points),
                description=a.get("description"),
                nameplate=a.get("nameplate"),
                endpoint=a["source"]["endpoint"],
                protocol=a["source"]["type"],
                history_url="http://127.0.0.1:8080/history",
            )
        )
    return specs


@pytest.fixture
def specs() -> list[AssetSpec]:
    return example_specs()
