"""schemathesis fuzzes every operation of the gateway's own OpenAPI document, as a reader, an operator and an admin.

A real gateway (uvicorn, httptools, a simulated machine behind it, no anonymous reads) is driven by
schemathesis' CLI with a fixed seed and a bounded number of cases per operation: examples, coverage
(boundary and negative values of every parameter) and fuzzing. Every response must be no 5xx, a
documented status code and media type, and match its documented schema (every error a Result);
a request without credentials must be refused. Where the document was wrong, it was fixed
(gateway/api/openapi.py), not the check.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.auth.config import Role
from simulators.cnc import CncMachine
from tests.integration.conftest import api_key_headers, asset, gateway_config

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance,ignored_auth")
SEED = 20261203
MAX_EXAMPLES = 2


async def _schemathesis(url: str, auth: str, report: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json", "-H", f"Authorization: {auth}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "30",
        "--no-color", "--report", "ndjson", "--report-ndjson-path", str(report),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=report.parent)  # its cache goes there
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.slow  # about 80 s on a loaded 2-core box: three runs of ~3,500 cases each, side by side
async def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(tmp_path: Path) -> None:
    cnc = CncMachine(name="CNC01", seed=1, port=0)
    await cnc.start()
    try:
        a = asset("CNC01", cnc, {"Feed.Override": "xs:double", "Spindle.Speed": "xs:double", "Tool.Number": "xs:int"})
        a["points"][0]["writable"] = True
        cfg = gateway_config(tmp_path, a, api=True).with_overrides({"api.auth.anonymous_read": False})
        async with Gateway(cfg) as gw:
            assert gw.api_url is not None
            roles: tuple[Role, ...] = ("reader", "operator", "admin")
            keys = {role: api_key_headers(cfg, role)["Authorization"] for role in roles}
            runs = await asyncio.gather(*(_schemathesis(gw.api_url, keys[role], tmp_path / f"{role}.ndjson")
                                          for role in roles))
            for role, (code, out) in zip(roles, runs, strict=True):
                assert code == 0, f"schemathesis as {role}:\n{out[-6000:]}"
                summary = out[out.find("SUMMARY"):]
                selected, total = map(int, re.search(r"Selected: (\d+)/(\d+)", summary).groups())  # type: ignore[union-attr]
                tested = int(re.search(r"Tested: (\d+)", summary).group(1))  # type: ignore[union-attr]
                assert selected == tested == total >= 100, summary  # every operation, admin and health included
                cases = re.search(r"(\d+) generated, (\d+) passed", summary)
                assert cases is not None and cases.group(1) == cases.group(2) and int(cases.group(1)) > 1000, summary
            # the gateway kept collecting while it was fuzzed
            assert gw.sources["CNC01"].health().state.value == "connected"
    finally:
        await cnc.stop()
