"""The package's shape: no import cycle, small modules and functions, a short top level.

Imports are read from the source (``ast``), module-level and function-level alike (a function-level
import is a cycle that waits for its first call); ``if TYPE_CHECKING:`` blocks are skipped, as they
never run. Importing ``panacea.a.b`` also runs ``panacea/a/__init__.py``, so that counts as an edge
too, except from inside ``panacea.a`` itself (Python has that package half-initialised already).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "panacea"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_TOP_LEVEL_MODULES = 6
# The packages in data-flow order (README, "How the code is organised"): each imports only from the
# ones before it.
LAYERS = (
    "core", "aq", "gemm", "models", "workload", "quant", "tasks", "hw", "rtl", "schemes", "results", "report",
    "flows", "cli",
)  # fmt: skip
# Amaranth's elaborate() describes a circuit: one long netlist reads better than pieces of one.
LONG_FUNCTIONS_ALLOWED = {"elaborate"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """The panacea modules that a module's import statements name (outside TYPE_CHECKING blocks)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)
            if isinstance(child, ast.Import):
                out.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = here.split(".") if is_package else here.split(".")[:-1]
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                out.add(base)
                out.update(f"{base}.{a.name}" for a in child.names if f"{base}.{a.name}" in MODULES)
    return {m for m in out if m in MODULES}


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        direct = _imported(ast.parse(path.read_text()), name, path.name == "__init__.py")
        edges = set()
        for target in direct:
            parts = target.split(".")
            for depth in range(2, len(parts) + 1):  # the packages that importing ``target`` runs
                pkg = ".".join(parts[:depth])
                if not (name == pkg or name.startswith(pkg + ".")):
                    edges.add(pkg)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_packages_import_only_the_layers_before_them():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(LAYERS)
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        if a.count(".") and b.count(".") and rank[b.split(".")[1]] > rank[a.split(".")[1]]
    ]
    assert upward == []


def test_the_cycle_finder_finds_cycles():
    """The check above can fail: a two-module cycle, a self-contained chain and a three-cycle."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": set(), "e": {"f"}, "f": {"g"}, "g": {"e"}}
    assert cycles(graph) == [["a", "b"], ["e", "f", "g"]]


def test_relative_and_function_level_imports_are_edges():
    tree = ast.parse("def f():\n    from panacea.core import slicing\nif TYPE_CHECKING:\n    import panacea.hw\n")
    assert _imported(tree, "panacea.gemm.counts", False) == {"panacea.core", "panacea.core.slicing"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_short(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines (at most {MAX_MODULE_LINES})"


def test_functions_are_short():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name not in LONG_FUNCTIONS_ALLOWED:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines"


def test_top_level_is_short():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
