"""Building the repository of all configured assets, and writing it to files.

One place that turns a list of AssetSpecs into the ModelRepository the API
serves, and writes the same content as AAS JSON or an AASX package (for
export, backups and conformance checks with aas-test-engines).
"""

from __future__ import annotations

import os
from pathlib import Path

from aas_models.basyx_adapters import json_adapter as aas_json
from aas_models.builder import AssetModel, build_asset
from aas_models.repository import ModelRepository
from aas_models.spec import AssetSpec


def build_repository(specs: list[AssetSpec]) -> tuple[ModelRepository, dict[str, AssetModel]]:
    """All assets in config order; the dict maps the asset idShort to its AssetModel."""
    repo = ModelRepository()
    models: dict[str, AssetModel] = {}
    for spec in specs:
        if spec.id_short in models:
            raise ValueError(f"asset idShort {spec.id_short!r} is used twice")
        m = build_asset(spec)
        repo.add_shell(m.shell)
        for sm in m.submodels:
            repo.add_submodel(sm)
        models[spec.id_short] = m
    return repo, models


def export_json(repo: ModelRepository, path: str | os.PathLike[str]) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        aas_json.write_aas_json_file(f, repo.store())


def export_aasx(repo: ModelRepository, path: str | os.PathLike[str]) -> None:
    """One AASX package with every shell and its submodels.

    The aas-spec part is JSON: BaSyx writes XML in the 3.1 namespace, which
    3.0 readers (and aas-test-engines 1.0.3) reject, while the JSON is valid for both.
    """
    from basyx.aas.adapter import aasx  # loads lxml: only when a package is written (see basyx_adapters)

    store = repo.store()
    with aasx.AASXWriter(os.fspath(path)) as writer:
        # write_aas must be called once per package, so all AAS ids go in one call
        writer.write_aas([s.id for s in repo.shells()], store, aasx.DictSupplementaryFileContainer(), write_json=True)
