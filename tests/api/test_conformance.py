"""The project's acceptance check: aas-test-engines reports zero failures for the four API 3.0 read suites.

Runs the real checker (a subprocess, as CI and users run it) against the app
served by a real uvicorn on a free port, with the API test model loaded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aas_models.repository import ModelRepository
from gateway.api import create_app
from gateway.api.ids import encode_id
from tests.api import model_data as md
from tests.api.open_policy import open_policy

pytestmark = pytest.mark.slow  # IDTA's test engine, four suites per model

PREFIX = "https://admin-shell.io/aas/API/3/0/"
SUITES = [
    "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "SubmodelRepositoryServiceSpecification/SSP-002",
    "AssetAdministrationShellServiceSpecification/SSP-002",
    "SubmodelServiceSpecification/SSP-002",
]
EXAMPLE_CONFIG = Path(__file__).parents[2] / "deploy" / "example-config.yaml"
# the one warning aas-test-engines 1.0.3 always gives: its GetAllSubmodelElements-Reference suite
# has no setup, so it never learns a cursor (not a server problem)
KNOWN_WARNINGS = {"Cannot check pagination, there must be at least 2 entities"}
# the gateway's own models hold no File, Blob, Entity, Operation ... and no concept descriptions;
# the checker notes what it could not try
NOT_IN_GATEWAY_MODEL = {
    "No such element present",
    "No submodel element of type 'File' found, skipping test.",
    "contains conceptDescriptions: Fail",
}


def _test_model() -> tuple[ModelRepository, str, str]:
    return md.build_repository(), md.AAS1, md.SM_OPS


def _gateway_model() -> tuple[ModelRepository, str, str]:
    from gateway.app import build_model
    from gateway.config import load_config

    repo, _ = build_model(load_config(EXAMPLE_CONFIG))
    return repo, repo.shells()[0].id, repo.submodels()[0].id


@pytest.fixture(scope="module", params=["test-model", "gateway-example-config"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(model name, base URL, suite -> path of the object the suite checks)"""
    repo, aas_id, sm_id = _test_model() if request.param == "test-model" else _gateway_model()
    paths = {
        SUITES[0]: "", SUITES[1]: "",
        SUITES[2]: f"/shells/{encode_id(aas_id)}", SUITES[3]: f"/submodels/{encode_id(sm_id)}",
    }
    app = create_app(repo, access=open_policy())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield request.param, f"http://127.0.0.1:{port}/api/v3.0", paths
    server.should_exit = True
    thread.join(10)


def _problems(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[int, str]]:
    here = (*path, node["m"].strip())
    children = node["s"]
    if node["l"] >= 1 and not any(c["l"] >= 1 for c in children):
        yield node["l"], " > ".join(here[1:])
    for c in children:
        yield from _problems(c, here)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_has_zero_failures(served: tuple[str, str, dict[str, str]], suite: str) -> None:
    name, base_url, paths = served
    proc = subprocess.run(
        [sys.executable, "-m", "aas_test_engines", "check_server", base_url + paths[suite], PREFIX + suite,
         "--output", "json"],
        capture_output=True, text=True, timeout=240,
    )
    report = json.loads(proc.stdout)
    problems = list(_problems(report))
    failures = [p for level, p in problems if level >= 2]
    assert not failures, "\n".join(failures[:20])
    assert proc.returncode == 0, proc.stderr
    allowed = KNOWN_WARNINGS | (NOT_IN_GATEWAY_MODEL if name != "test-model" else set())
    warnings = [p for level, p in problems if level == 1 and p.rsplit(" > ", 1)[-1] not in allowed]
    assert not warnings, "\n".join(warnings)

    summary = next(c for c in report["s"] if c["m"] == "Summary:")
    counts = [tuple(map(int, re.findall(r"(\d+) / (\d+)", s["m"])[0])) for s in summary["s"]]
    (neg_ok, neg_all), (pos_ok, pos_all) = counts
    assert neg_ok == neg_all > 0 and pos_ok == pos_all > 50
    print(f"{name} {suite}: negative {neg_ok}/{neg_all}, positive {pos_ok}/{pos_all}")
