"""Acceptance (issue 5): no secret the test run used reaches a log, audit or capture file the run wrote.

A pytest plugin (loaded by tests/conftest.py) so that the check does not depend on test order or on which
tests were selected: it collects what it scans itself.

- During the run: every log record of our own code at INFO and above (and anything a test turns up) goes
  to one run-wide log file in the run's temporary directory (under xdist: one per worker, in the worker's
  own directory below the run's).
- At the end of the session (after every test and fixture teardown): it reads that log and every log-like
  file the run's tests wrote below pytest's temporary directory (gateway and simulator logs, audit logs,
  current and rotated, captured subprocess output), looking for the secrets tests registered
  (tests/secrets.py `secret`) and for the shapes of secrets made at run time (API keys, JWTs, PEM private
  keys). Under xdist each worker hands its registered secrets to the controller, which scans the whole
  tree once all workers are done.
- A clean run prints one line saying what was checked; a leak is reported as a failed test item,
  `tests/secrets_check.py::no_secret_in_any_log_or_audit_file`, and fails the session.

tests/unit/test_secrets_check.py proves the scanner finds each kind of leak and that a leaking run fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.logs import TextFormatter
from tests.secrets import SHAPES, used

RUN_LOG = "test-run.log"
NODE_ID = "tests/secrets_check.py::no_secret_in_any_log_or_audit_file"
_LOG_SUFFIXES = (".log", ".jsonl", ".out", ".err", ".txt")
_WORKER_KEY = "secrets_used"  # the key of a worker's registered secrets in xdist's workeroutput
_from_workers: set[str] = set()


@dataclass
class Scan:
    files: list[Path] = field(default_factory=list)
    audit_files: int = 0
    leaks: list[str] = field(default_factory=list)


def log_files(base: Path) -> list[Path]:
    """Every file below `base` that a log, audit trail or captured output may have been written to."""
    return sorted(p for p in base.rglob("*") if p.is_file() and (p.suffix in _LOG_SUFFIXES or "audit" in p.name))


def scan(base: Path, secrets: Iterable[str]) -> Scan:
    """Look for each registered secret and each secret shape in every log-like file below `base`."""
    result = Scan(files=log_files(base))
    secrets = sorted(set(secrets))
    for f in result.files:
        text = f.read_text(encoding="utf-8", errors="replace")
        result.audit_files += "audit" in f.name
        where = f.relative_to(base)
        # the report names what leaked by a short prefix only: it must not print the secret itself
        result.leaks += [f"{where}: registered secret {s[:3]}..." for s in secrets if s in text]
        result.leaks += [f"{where}: {kind} {m.group(0)[:12]}..." for kind, rx in SHAPES.items()
                         for m in rx.finditer(text)]
    return result


@pytest.fixture(scope="session", autouse=True)
def run_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every log record of our own code at INFO and above (and anything a test turns up) into one file."""
    handler = logging.FileHandler(tmp_path_factory.getbasetemp() / RUN_LOG, encoding="utf-8")
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    ours = [logging.getLogger(name) for name in ("gateway", "connectors", "aas_models", "simulators")]
    levels = [lg.level for lg in ours]
    for lg in ours:
        lg.setLevel(logging.INFO)
    yield
    for lg, level in zip(ours, levels, strict=True):
        lg.setLevel(level)
    root.removeHandler(handler)
    handler.close()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep the secrets a finished worker registered."""
    _from_workers.update(getattr(node, "workeroutput", {}).get(_WORKER_KEY, ()))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller scans, once every worker is done
        config.workeroutput[_WORKER_KEY] = sorted(used())  # type: ignore[attr-defined]
        return
    if session.testscollected == 0 or config.option.collectonly:
        return
    # the run's base directory (under xdist the workers' directories are inside it); pytest has no public
    # accessor outside fixtures, and xdist itself reads it the same way
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    result = scan(base, used() | _from_workers)
    problems = list(result.leaks)
    if not any(f.name == RUN_LOG for f in result.files):
        problems.append(f"no {RUN_LOG} below {base}: the run-wide log was not written, the check would be blind")
    summary = (f"checked {len(result.files)} log/audit files ({result.audit_files} audit) below {base} for "
               f"{len(used() | _from_workers)} registered secrets and {len(SHAPES)} secret shapes")
    if problems:  # a failed item of its own, so the summary and the exit code say so like any failed test
        config.hook.pytest_runtest_logreport(report=pytest.TestReport(
            nodeid=NODE_ID, location=("tests/secrets_check.py", 0, "no_secret_in_any_log_or_audit_file"),
            keywords={}, outcome="failed", longrepr="secrets in logs:\n" + "\n".join(problems) + "\n" + summary,
            when="call"))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        if reporter._tw.width_of_current_line:  # after -q's progress dots
            reporter.line("")
        reporter.write_line(f"secrets check: {summary}: {'LEAKS FOUND' if problems else 'no leak'}")
