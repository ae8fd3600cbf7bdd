"""The AAS edge gateway: configuration, pipeline, historian, API and wiring.

`gateway.__version__` is the installed distribution's version (pyproject.toml is the one source),
looked up on first use: reading package metadata costs about 0.1 s, which `aas-gateway --help`
and the other quick commands should not pay.
"""

from __future__ import annotations

import functools

DISTRIBUTION = "aas-edge-gateway"


@functools.cache
def version() -> str:
    """The version pyproject.toml declares, as installed ("0+unknown" when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
