"""Heavy libraries that only optional features use are not loaded by a gateway that does not use them.

Each costs RSS in every gateway process (measured: influxdb-client with reactivex ~12 MB, numpy ~13 MB),
which matters at the edge (issue 9: peak RSS at 10,000 points < 150 MB).
"""

from __future__ import annotations

import subprocess
import sys

OPTIONAL = ("numpy", "influxdb_client", "reactivex")


def test_importing_the_gateway_loads_no_optional_heavy_library() -> None:
    code = ("import sys, gateway.app, gateway.cli; "
            f"print(','.join(m for m in {OPTIONAL!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "", f"imported at start: {out.stdout.strip()}"

