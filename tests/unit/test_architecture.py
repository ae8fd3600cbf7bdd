"""The house rules of the code base, checked on the import graph (grimp) and the source (ast).

- no import cycles among our packages' modules, counting every import: at module level, inside
  functions (run time) and under TYPE_CHECKING (a cycle for the type checker is still a tangle);
- imports point down: `connectors`, `aas_models` and `simulators` never import `gateway`;
- `aas_models` imports BaSyx, the standard library and the dependency-free shared core
  (`connectors.sample`, `connectors.status`) only, and that core imports the standard library only;
- no module imports a private name (`_x`) of another of our modules;
- every HTTP route lives under `gateway/api/`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("gateway", "aas_models", "connectors", "simulators")
SHARED_CORE = {"connectors.sample", "connectors.status"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS, exclude_type_checking_imports=False)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.a")
    g.add_import(importer="p.b", imported="p.c")
    assert _cycles(g) == [["p.a", "p.b"]]


@pytest.mark.parametrize("package", ["connectors", "aas_models", "simulators"])
def test_lower_layers_never_import_gateway(graph: grimp.ImportGraph, package: str) -> None:
    offenders = [(d["importer"], d["imported"]) for d in
                 graph.find_matching_direct_imports(import_expression=f"{package}.** -> gateway.**")]
    offenders += [(d["importer"], d["imported"]) for d in
                  graph.find_matching_direct_imports(import_expression=f"{package}.** -> gateway")]
    assert offenders == []


def _external_imports(package_dir: Path) -> dict[str, set[str]]:
    """module file -> top-level names of everything it imports (any depth in the file)."""
    out: dict[str, set[str]] = {}
    for f in package_dir.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[str(f.relative_to(ROOT))] = names
    return out


def test_aas_models_imports_basyx_and_the_shared_core_only() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"basyx", "aas_models"}
    bad = {f: sorted(n for n in names if n.split(".")[0] not in allowed_roots and n not in SHARED_CORE
                     and n != "connectors")
           for f, names in _external_imports(ROOT / "aas_models").items()}
    assert {f: n for f, n in bad.items() if n} == {}


def test_the_shared_core_is_dependency_free() -> None:
    for module in SHARED_CORE:
        f = ROOT / (module.replace(".", "/") + ".py")
        names = _external_imports(f.parent)[str(f.relative_to(ROOT))]
        # connectors.status looks asyncua's full name table up lazily, when it is installed
        third_party = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names} - {
            "asyncua.ua.status_codes"}
        assert third_party == set(), module


def test_no_private_names_imported_across_modules() -> None:
    offenders = []
    for package in OURS:
        for f in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
                    offenders += [f"{f.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}"
                                  for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                    offenders += [f"{f.relative_to(ROOT)}:{node.lineno} as {a.asname}" for a in node.names
                                  if (a.asname or "").startswith("_")]
                elif isinstance(node, ast.Import):
                    offenders += [f"{f.relative_to(ROOT)}:{node.lineno} {a.name}" for a in node.names
                                  if a.name.split(".")[0] in OURS and any(p.startswith("_") and not p.startswith("__")
                                                                          for p in a.name.split("."))]
    assert offenders == []


def test_http_routes_live_under_gateway_api() -> None:
    """FastAPI and Starlette are imported only by the API package (and the server that runs it)."""
    allowed = {"gateway/api_server.py"}
    offenders = []
    for package in OURS:
        for f, names in _external_imports(ROOT / package).items():
            if f.startswith("gateway/api/") or f in allowed:
                continue
            offenders += [f"{f}: {n}" for n in names if n.split(".")[0] in ("fastapi", "starlette")]
    assert offenders == []
