"""The workspace's shape, read from the source with `ast` (no stack, no imports of our packages; fast).

1. No two test modules share a basename: pytest imports each test folder's modules by basename (rootdir-relative
   `prepend` mode), so a second `test_x.py` anywhere, or a second helper module of the same name beside tests,
   breaks collection of the whole run.
2. No import cycles inside any component's src/ package. Every import statement counts: at module level, inside a
   function (the usual way to hide a cycle), under `if TYPE_CHECKING:` (a cycle of types is still a cycle in
   the one-way import order), and `importlib.import_module("...")` with a literal name. An import names the most
   specific module it loads (`from pkg.sub import name` is `pkg.sub.name` when that is a module, else `pkg.sub`);
   the parent packages Python initialises on the way are not counted.
3. FlowAPI and FlowClient never import FlowMachine or FlowDB (they speak HTTP and ZeroMQ); `flowapi.testing`,
   which starts a real backend for other packages' tests (its `testing` extra), is exempt. That
   flowkit_protocol imports only the standard library is protocol/tests/test_protocol_envelope.py's check.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folders that hold no sources of ours (tool state, virtualenvs, build output, data directories).
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".tools",
    ".flowdb",
    ".stack",
    ".artefacts",
    "node_modules",
    "build",
    "dist",
}
NOT_IMPORTED_BY_BASENAME = {"conftest.py", "__init__.py"}  # pytest handles conftest files itself

# (component import name, packages it must never import)
FORBIDDEN_IMPORTS = {
    "flowapi": ("flowmachine", "flowdb"),
    "flowclient": ("flowmachine", "flowdb"),
}
# Test-support modules, installed with their package's `testing` extra, that start the real backends for other
# packages' tests: they may import what the runtime code must not.
TEST_SUPPORT_MODULES = {"flowapi.testing"}

MAX_CYCLES = 10_000  # enumeration stops here (a tangle that big needs no exact count to be fixed)


def _walk(top: Path) -> Iterator[Path]:
    """Every .py file under `top`, outside SKIPPED_DIRS and hidden folders."""
    for entry in sorted(top.iterdir()):
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS and not entry.name.startswith("."):
                yield from _walk(entry)
        elif entry.suffix == ".py":
            yield entry


def _is_test_module(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py")


def modules_imported_by_basename(root: Path) -> dict[str, list[Path]]:
    """basename -> the files of that name among the test modules and the helper modules beside them."""
    files = list(_walk(root))
    test_dirs = {p.parent for p in files if _is_test_module(p)}
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        if path.parent in test_dirs and path.name not in NOT_IMPORTED_BY_BASENAME:
            by_name[path.name].append(path.relative_to(root))
    return by_name


def src_packages(root: Path) -> dict[str, Path]:
    """Import name -> folder of every component's src/ package (`<component>/src/<name>/__init__.py`)."""
    return {init.parent.name: init.parent for init in sorted(root.glob("*/src/*/__init__.py"))}


def package_modules(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package) for every module of the package."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    return modules


def imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    """Absolute dotted names of everything `path` imports anywhere in it; `from pkg.mod import name` gives
    `pkg.mod.name`, which is a module or else an attribute of `pkg.mod`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.update(
                source if alias.name == "*" else f"{source}.{alias.name}" for alias in node.names
            )
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")
        ):
            names.add(node.args[0].value)
    return names


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    modules = package_modules(package_dir)
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        targets = set()
        for name in imported_names(path, module, is_package):
            while name and name not in modules:  # `pkg.mod.attr` -> `pkg.mod`
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def elementary_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every simple cycle, each as a chain starting and ending at its alphabetically first module."""
    order = sorted(graph)
    rank = {m: i for i, m in enumerate(order)}
    cycles: list[list[str]] = []
    for start in order:
        path = [start]
        on_path = {start}
        stack = [iter(sorted(graph[start]))]
        while stack and len(cycles) < MAX_CYCLES:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                on_path.discard(path.pop())
            elif step == start:
                cycles.append([*path, start])
            elif rank[step] > rank[start] and step not in on_path:
                path.append(step)
                on_path.add(step)
                stack.append(iter(sorted(graph[step])))
    return cycles


def current_cycles(root: Path) -> set[str]:
    return {
        " -> ".join(cycle)
        for package_dir in src_packages(root).values()
        for cycle in elementary_cycles(import_graph(package_dir))
    }


def forbidden_imports(root: Path) -> list[str]:
    found = []
    for name, package_dir in src_packages(root).items():
        banned = FORBIDDEN_IMPORTS.get(name, ())
        for module, (path, is_package) in package_modules(package_dir).items():
            if module in TEST_SUPPORT_MODULES:
                continue
            for imported in sorted(imported_names(path, module, is_package)):
                if imported.split(".")[0] in banned:
                    found.append(f"{path.relative_to(root)} imports {imported}")
    return sorted(set(found))


def test_test_module_basenames_are_unique():
    clashes = {
        name: [str(p) for p in paths]
        for name, paths in modules_imported_by_basename(ROOT).items()
        if len(paths) > 1
    }
    assert not clashes, (
        "pytest imports test modules (and the helpers beside them) by basename; rename one of each:\n"
        + "\n".join(f"  {name}: {', '.join(paths)}" for name, paths in sorted(clashes.items()))
    )


def test_src_packages_have_no_import_cycles():
    cycles = sorted(current_cycles(ROOT))
    assert not cycles, "import cycles (break them):\n" + "\n".join(f"  {chain}" for chain in cycles)


def test_flowapi_and_flowclient_never_import_flowmachine_or_flowdb():
    assert set(FORBIDDEN_IMPORTS) <= set(src_packages(ROOT)), "a guarded component moved"
    found = forbidden_imports(ROOT)
    assert not found, "\n".join(found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_guard_finds_clashing_basenames(tmp_path):
    _write(
        tmp_path,
        {
            "a/tests/test_x.py": "",
            "a/tests/helpers.py": "",
            "a/tests/conftest.py": "",
            "b/tests/test_x.py": "",
            "b/tests/helpers.py": "",
            "b/tests/conftest.py": "",
            "b/src/helpers.py": "",  # not beside a test module: never imported by basename
            ".venv/lib/test_x.py": "",
        },
    )
    clashes = {n: p for n, p in modules_imported_by_basename(tmp_path).items() if len(p) > 1}
    assert clashes == {
        "test_x.py": [Path("a/tests/test_x.py"), Path("b/tests/test_x.py")],
        "helpers.py": [Path("a/tests/helpers.py"), Path("b/tests/helpers.py")],
    }


def test_the_guard_finds_hidden_cycles_and_forbidden_imports(tmp_path):
    _write(
        tmp_path,
        {
            "one/src/pkg/__init__.py": "from pkg.top import VALUE\n",
            "one/src/pkg/top.py": "VALUE = 1\n",
            # a function-local import hides a -> b -> a
            "one/src/pkg/a.py": "def f():\n    from pkg import b\n    return b\n",
            "one/src/pkg/b.py": "from pkg.a import f\n",
            # a TYPE_CHECKING import, relative imports and a parent package's attribute
            "one/src/pkg/sub/__init__.py": "",
            "one/src/pkg/sub/c.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from ..sub import d\n",
            "one/src/pkg/sub/d.py": "from . import c\nfrom pkg import VALUE\n",
            "one/src/pkg/e.py": "import importlib\nM = importlib.import_module('pkg.sub.c')\n",
            "flowapi/src/flowapi/__init__.py": "",
            "flowapi/src/flowapi/x.py": "def f():\n    import flowmachine.core\n",
            "flowapi/src/flowapi/testing.py": "from flowmachine.testing import server_in_thread\n",
            "flowclient/src/flowclient/__init__.py": "from flowdb.settings import Settings\n",
        },
    )
    assert current_cycles(tmp_path) == {
        "pkg.a -> pkg.b -> pkg.a",
        "pkg.sub.c -> pkg.sub.d -> pkg.sub.c",
    }
    assert import_graph(tmp_path / "one/src/pkg")["pkg.e"] == {"pkg.sub.c"}
    assert import_graph(tmp_path / "one/src/pkg")["pkg.sub.d"] == {"pkg", "pkg.sub.c"}
    assert forbidden_imports(tmp_path) == [
        "flowapi/src/flowapi/x.py imports flowmachine.core",
        "flowclient/src/flowclient/__init__.py imports flowdb.settings.Settings",
    ]
