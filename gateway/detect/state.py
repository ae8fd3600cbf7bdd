"""The detectors' learned state on disk, so a restart needs no new learning window.

One JSON file beside the historian (`detect-state.json`), written atomically (temporary file,
fsync, rename, fsync of the folder): a crash mid-save leaves the previous file, never half a file.
The document carries a format name and a version; a file of another format, another version or
that does not parse is moved aside (`*.unreadable-<time>`, kept for a look) and the detectors start
learning afresh, with one warning: a format change must never stop the gateway from starting.
Each detector's entry also carries a fingerprint of its configuration, so changing one signal's
preset relearns that signal only (see engine.py).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = "aas-gateway/detect-state"
VERSION = 1


def save(path: Path, assets: dict[str, Any], saved_ns: int) -> int:
    """Write the state atomically; returns the bytes written."""
    doc = {"format": FORMAT, "version": VERSION, "saved_ns": saved_ns, "assets": assets}
    data = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(data)


def load(path: Path) -> dict[str, Any] | None:
    """The saved per-asset state, or None (no file, or one this version cannot use: moved aside)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a detector state file")
        if doc.get("version") != VERSION:
            raise ValueError(f"version {doc.get('version')!r}, this gateway reads version {VERSION}")
        assets = doc.get("assets")
        if not isinstance(assets, dict):
            raise ValueError("no 'assets' object")
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        log.warning("detector state %s cannot be used (%s): kept as %s; the detectors learn afresh", path, e, aside)
        return None
    return assets
