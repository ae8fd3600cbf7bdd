"""BaSyx's JSON adapter without its XML and AASX adapters until something asks for them.

`basyx/aas/adapter/__init__.py` imports the AASX, JSON and XML adapters together (for its one function,
`load_directory`), so the JSON adapter alone loads lxml and pyecma376-2: ~9 MB of resident memory in a
gateway that writes XML or AASX only when a client asks for it (issue 9: RSS at 10,000 points).

`defer()` registers that package with its real `__path__` but without running its `__init__`:
`basyx.aas.adapter.json`, `.xml` and `.aasx` import as usual, each on its first import, and
`from basyx.aas.adapter import aasx` imports just that submodule. Any other name read from the package
itself (`load_directory`) runs the real `__init__` into it at that moment: nothing is lost, only postponed.
This module is where the gateway's code gets the JSON adapter from (`json_adapter`, and `generic`, its
tables of enum names): importing it defers first. When something imported the package before, it is left as
it is (the memory is spent, everything works).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PACKAGE = "basyx.aas.adapter"


def defer() -> None:
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)  # imports basyx.aas only (its __init__ defines __version__)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = types.ModuleType(PACKAGE, "BaSyx adapters (package __init__ deferred, see aas_models.basyx_adapters)")
    module.__spec__ = spec
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = spec.origin
    module.__package__ = PACKAGE
    loader = spec.loader
    submodules = {p.stem for d in module.__path__ for p in Path(d).iterdir()
                  if p.suffix == ".py" or (p / "__init__.py").exists()}

    def __getattr__(name: str) -> Any:  # the module-level hook of PEP 562
        if name in submodules:
            return importlib.import_module(f"{PACKAGE}.{name}")
        if name.startswith("__"):
            raise AttributeError(name)
        del module.__getattr__  # once: the real __init__ defines the rest
        loader.exec_module(module)
        return getattr(module, name)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[PACKAGE] = module


defer()

# after defer(): that is the point of this module
from basyx.aas.adapter import _generic as generic  # noqa: E402
from basyx.aas.adapter import json as json_adapter  # noqa: E402

__all__ = ["defer", "generic", "json_adapter"]
