"""Acceptance (issue 5): no secret the test run used appears in any log or audit file it produced.

This module runs last (pytest collects directories in name order). It reads the run-wide log
(tests/conftest.py `run_log`: every record of our code at INFO and above, DEBUG where a test asked
for it) and every log-like file the run's tests wrote under pytest's temporary directory: gateway
and simulator logs, audit logs (current and rotated), captured subprocess output. It looks for the
secrets tests registered (tests/secrets.py) and for the shapes of secrets made at run time: API
keys, JWTs and PEM private keys.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.conftest import RUN_LOG
from tests.secrets import SHAPES, used

_LOG_SUFFIXES = (".log", ".jsonl", ".out", ".err", ".txt")


def _log_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file() and (p.suffix in _LOG_SUFFIXES or "audit" in p.name))


def test_no_secret_in_any_log_or_audit_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp()
    files = _log_files(base)
    assert base / RUN_LOG in files
    secrets = used()
    leaks: list[str] = []
    audit_files = 0
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        audit_files += "audit" in f.name
        leaks += [f"{f.relative_to(base)}: registered secret {s[:3]}..." for s in secrets if s in text]
        leaks += [f"{f.relative_to(base)}: {kind} {m.group(0)[:12]}..." for kind, rx in SHAPES.items()
                  for m in rx.finditer(text)]
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
    print(f"checked {len(files)} log/audit files ({audit_files} audit) for {len(secrets)} registered secrets "
          f"and {len(SHAPES)} secret shapes")


def test_the_grep_would_find_a_leak() -> None:
    """The check above is only worth something if it can fail: plant each kind of secret and find it."""
    with tempfile.TemporaryDirectory() as d:  # outside the run's directory, which the test above reads
        _planted(Path(d))


def _planted(tmp_path: Path) -> None:
    planted = tmp_path / "planted.log"
    planted.write_text("connect with agw_k1a2b3_AbCdEfGhIjKlMnOpQrSt\n"
                       "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXMifQ.c2lnbmF0dXJlLWJ5dGVz\n"
                       "-----BEGIN PRIVATE KEY-----\n")
    text = planted.read_text()
    assert all(rx.search(text) for rx in SHAPES.values())
    assert planted in _log_files(tmp_path)
