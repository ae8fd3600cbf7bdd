"""WSGI entry point for the BaSyx Python SDK 1.2.1 HTTP server, used as the baseline by benchmarks/api.py.

Runs inside the BaSyx virtualenv (benchmarks/.venv-basyx, created by api.py), never in the project's
environment: basyx-python-sdk 1.2.1 is the last release with `basyx.aas.adapter.http.WSGIApp`, and the
project itself depends on 2.x. Served by gunicorn:

    BASYX_MODEL_JSON=model.json BASYX_LOAD_REPORT=load.json \\
        benchmarks/.venv-basyx/bin/gunicorn --chdir benchmarks basyx_server:app

The model is read with the 1.2.1 JSON adapter in failsafe mode: an element 1.2.1 cannot decode is
dropped (only that element) and the decoder's log message is written to BASYX_LOAD_REPORT, together
with what was loaded, so the benchmark can report what (if anything) the baseline serves less of.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.http import WSGIApp
from basyx.aas.adapter.json import read_aas_json_file


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:300])


def _count_elements(elements: Iterable[Any]) -> int:
    n = 0
    for el in elements:
        n += 1
        if isinstance(el, (model.SubmodelElementCollection, model.SubmodelElementList)):
            n += _count_elements(el.value)
        elif isinstance(el, model.Entity):
            n += _count_elements(el.statement)
    return n


# the store is 1.2.1's DictObjectStore at run time; mypy checks this file against the project's basyx 2.x
def load(path: str) -> tuple[Any, dict[str, object]]:
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        with open(path, encoding="utf-8") as f:
            store = read_aas_json_file(f, failsafe=True)
    finally:
        root.removeHandler(collect)
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    submodels = [o for o in store if isinstance(o, model.Submodel)]
    cds = [o for o in store if isinstance(o, model.ConceptDescription)]
    report = {
        "shells": len(shells),
        "submodels": len(submodels),
        "concept_descriptions": len(cds),
        "submodel_elements": sum(_count_elements(sm.submodel_element) for sm in submodels),
        "dropped_or_warned": collect.messages,
    }
    return store, report


_store, _report = load(os.environ["BASYX_MODEL_JSON"])
if os.environ.get("BASYX_LOAD_REPORT"):
    with open(os.environ["BASYX_LOAD_REPORT"], "w", encoding="utf-8") as _f:
        json.dump(_report, _f, indent=1)

app = WSGIApp(_store, aasx.DictSupplementaryFileContainer(), base_path="/api/v3.0")
