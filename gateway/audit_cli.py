"""`aas-gateway audit ...` (being built for issue 5)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="(not yet built)")
    p.set_defaults(func=lambda args: 2)
