"""FlowAPI's import graph: one way (factory -> routes -> request helpers), no cycles (function-local imports
included), and its runtime code never imports FlowMachine or FlowDB (only `flowapi.testing` may)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "flowapi"
TEST_ONLY = {"flowapi.testing"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """Every module `name` imports anywhere in its body (top level or inside functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from flowapi.routes import query` imports the submodule flowapi.routes.query
            submodules = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):  # and names from `base` itself
                found.add(base)
    return found


GRAPH = {name: {m for m in _imports(name) if m in MODULES and m != name} for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return components


def test_the_graph_is_read_from_every_module():
    assert {"flowapi.app", "flowapi.routes.query", "flowapi.state"} <= MODULES.keys()
    assert "flowapi.routes.query" in GRAPH["flowapi.app"]
    assert "flowapi.state" in GRAPH["flowapi.routes.query"]


def test_no_import_cycles():
    assert _cycles() == []


def test_only_the_package_and_the_entry_point_import_the_factory():
    importers = {name for name, deps in GRAPH.items() if "flowapi.app" in deps}
    assert importers <= {"flowapi", "flowapi.main", "flowapi.testing"}


def test_request_helpers_never_import_routes():
    for name, deps in GRAPH.items():
        if name in ("flowapi.app", "flowapi.main") or name.startswith("flowapi.routes"):
            continue
        routes = {d for d in deps if d.startswith("flowapi.routes")}
        assert not routes, f"{name} imports {routes}"


def test_runtime_code_never_imports_flowmachine_or_flowdb():
    for name in MODULES.keys() - TEST_ONLY:
        foreign = {
            m
            for m in _imports(name)
            if m.split(".")[0] in ("flowmachine", "flowdb", "flowkit_jwt_generator")
            or m in TEST_ONLY
        }
        assert not foreign, f"{name} imports {foreign}"


def test_importing_flowapi_loads_no_flowmachine():
    runtime = sorted(MODULES.keys() - TEST_ONLY)
    code = (
        "import importlib, sys\n"
        f"for name in {runtime!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flowmachine', 'flowdb'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_other_packages_tests_use_flowapi_testing_not_flowapis_test_files():
    """flowclient's (and any other package's) tests get FlowAPI's fixtures from `flowapi.testing`, never by
    loading files of flowapi/tests by path or putting that folder on sys.path."""
    root = SRC.parents[1]
    others = [*root.glob("*/tests/**/*.py"), *root.glob("integration_tests/**/*.py")]
    assert any(p.match("flowclient/tests/conftest.py") for p in others)
    for path in others:
        if path.is_relative_to(root / "flowapi"):
            continue
        text = path.read_text()
        assert "flowapi_test_helpers" not in text and '"flowapi" / "tests"' not in text, path
