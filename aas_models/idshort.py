"""The idShort rules, defined once: the config, the model builder and the detectors check names with them.

An idShort starts with a letter and holds letters, digits and '_' (AAS Part 1, Constraint AASd-002, without
the '-' that 3.0 allows: idShorts also become MQTT topic levels, Python-friendly paths and metric labels),
at most 128 characters. An idShortPath joins idShorts with '.'.
"""

from __future__ import annotations

import re

ID_SHORT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
ID_SHORT_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
MAX_LENGTH = 128


def check_id_short(value: str, what: str | None = None, max_length: int = MAX_LENGTH) -> str:
    """`value` if it is a valid idShort of at most `max_length` characters; ValueError naming `what` otherwise."""
    if not ID_SHORT.fullmatch(value) or len(value) > max_length:
        prefix = f"{what}: " if what else ""
        raise ValueError(f"{prefix}{value!r} is not a valid idShort (letter first, then letters, digits or '_'"
                         + (f", at most {max_length} characters)" if len(value) > max_length else ")"))
    return value


def check_id_short_path(value: str) -> str:
    """`value` if it is an idShortPath (idShorts joined by '.'); the error names the bad segment."""
    if ID_SHORT_PATH.fullmatch(value):
        return value
    for seg in value.split("."):
        if not ID_SHORT.fullmatch(seg):
            raise ValueError(f"{value!r} is not an idShortPath: segment {seg!r} is not a valid idShort")
    raise ValueError(f"{value!r} is not an idShortPath")  # unreachable: some segment must be bad
