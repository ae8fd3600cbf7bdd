"""Secrets the test run uses, so that tests/secrets_check.py can show none of them reached a log or audit file.

Tests wrap the literal secrets they configure in `secret(...)`; secrets made at run time (API keys,
JWTs, private keys) are recognised by their shape instead, so a test cannot forget to register them.
"""

from __future__ import annotations

import re

_USED: set[str] = set()

# agw_<id>_<secret>: the id alone may be logged (it names the key), the secret part may not
SHAPES = {
    "API key": re.compile(r"agw_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----"),
}


def secret(value: str) -> str:
    """Register `value` as a secret of this run and return it."""
    if len(value) < 6:
        raise ValueError("a registered secret must be long enough not to match by accident")
    _USED.add(value)
    return value


def used() -> frozenset[str]:
    return frozenset(_USED)
