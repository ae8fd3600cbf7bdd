"""The secrets check (tests/secrets_check.py) is only worth something if it can fail.

In process: plant each kind of secret in a log file and let the scanner find it. In a child pytest run
(plain and under xdist, where the worker that registered a secret is not the process that scans): a
test that leaks fails the session, though every test of that run passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.secrets import SHAPES
from tests.secrets_check import NODE_ID, RUN_LOG, log_files, scan

REPO = Path(__file__).resolve().parents[2]
PLANTED = ("connect with agw_k1a2b3_AbCdEfGhIjKlMnOpQrSt\n"
           "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXMifQ.c2lnbmF0dXJlLWJ5dGVz\n"
           "-----BEGIN PRIVATE KEY-----\n")


def test_the_scanner_finds_each_kind_of_secret() -> None:
    # outside the run's directory, which the session-end check reads: these leaks are planted on purpose
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        (base / "gw").mkdir()
        (base / "gw" / "planted.log").write_text(PLANTED + "password=hunter2-planted\n")
        (base / "audit.jsonl.1").write_text('{"actor": "cli"}\n')  # rotated audit files are read too
        (base / "historian.sqlite").write_bytes(b"hunter2-planted")  # not a log: not read
        result = scan(base, {"hunter2-planted"})
        assert [p.name for p in result.files] == ["audit.jsonl.1", "planted.log"] == [p.name for p in log_files(base)]
        assert result.audit_files == 1
        kinds = {leak.split(": ", 1)[1].split(" ")[0] for leak in result.leaks}
        assert len(result.leaks) == len(SHAPES) + 1 and kinds >= {"registered", "API", "JWT", "private"}, result.leaks
        assert all("hunter2" not in leak and "AbCdEfGh" not in leak for leak in result.leaks), "the report leaks"
        assert not scan(base / "gw", set()).leaks == []  # shapes need no registration


LEAKY_TEST = '''
import logging
from tests.secrets import secret

def test_logs_an_api_key():
    logging.getLogger("gateway.planted").warning("key agw_k1a2b3_AbCdEfGhIjKlMnOpQrSt")

def test_writes_a_registered_secret(tmp_path):
    (tmp_path / "sink.log").write_text("token=" + secret("hunter2-planted-token"))

def test_clean():
    pass
'''


@pytest.mark.parametrize("xdist", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["plain", "xdist"])
def test_a_run_that_leaks_fails_though_its_tests_pass(xdist: bool) -> None:
    with tempfile.TemporaryDirectory() as d:  # outside this run's directory: the leaks are planted on purpose
        root = Path(d)
        (root / "test_leaky.py").write_text(LEAKY_TEST)
        args = [sys.executable, "-m", "pytest", "-p", "tests.secrets_check", "-p", "no:cacheprovider",
                "--basetemp", str(root / "tmp"), "--rootdir", str(root), "-o", "addopts=", "-q", "test_leaky.py"]
        args += ["-p", "xdist", "-n", "2"] if xdist else []
        # only the plugins this run needs: the installed ones (schemathesis, hypothesis ...) cost seconds
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        out = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=120)
        text = out.stdout + out.stderr
        assert out.returncode == pytest.ExitCode.TESTS_FAILED, text
        assert "3 passed" in text and "1 failed" in text and "LEAKS FOUND" in text and f"FAILED {NODE_ID}" in text, text
        assert "registered secret hun..." in text and "API key agw_k1a2b3_A..." in text, text
        assert "hunter2-planted-token" not in text and "AbCdEfGhIjKlMnOpQrSt" not in text, "the report leaks"
        run_logs = list((root / "tmp").rglob(RUN_LOG))
        assert len(run_logs) == (2 if xdist else 1), run_logs  # under xdist, one per worker
