"""aas-test-engines 1.0.3 as a command, with one crawler bug of its check_server worked around.

Its Submodel suites start by collecting every element path (``_collect_submodel_elements``) and
iterate over each collection's and list's ``value`` without a None check; an empty
SubmodelElementCollection or SubmodelElementList, whose ``value`` the AAS JSON schema requires to be
left out (``NonEmptyList``), makes the checker crash with "'NoneType' object is not iterable"
instead of testing anything. The gateway's model has such elements by design: a structure point
before its first value, a null structure field, an array of length 0. The wrapper treats a missing
``value`` as empty; everything the checker tests stays as it is.

    python -m tests.tools.aas_test_engines_fixed check_server URL SUITE --output json
"""

from __future__ import annotations

from typing import Any

import aas_test_engines.test_cases.v3_0.interfaces.submodel as _submodel
from aas_test_engines.__main__ import main

_collect = _submodel._collect_submodel_elements


def _collect_tolerant(elements: Any, paths: Any, path_prefix: str) -> None:
    _collect(elements or [], paths, path_prefix)


_submodel._collect_submodel_elements = _collect_tolerant

if __name__ == "__main__":
    main()
