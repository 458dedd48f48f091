"""Layers point one way: no import circles in our packages, and production code never imports the simulators.

The import graph is read from the source with :mod:`ast` (nothing is imported): every ``import`` and
``from ... import`` counts, at module level, inside functions and under ``if TYPE_CHECKING:`` alike, since a
circle that only a function-level or a typing import hides is still a circle in the design.  A name
imported from a package resolves to its submodule when there is one (``from gateway.gs1 import codelists``
is an edge to ``gateway.gs1.codelists``).

The simulators plug into production code from their side (the ``camera:sim`` entry point, the tag-world
replay in :mod:`simulators.replay`); only the ``demo`` runner, which starts them, may import them (the
``simulate`` command loads them by name).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "drivers", "simulators")
PRODUCTION = ("gateway", "drivers")
MAY_IMPORT_SIMULATORS = frozenset({"gateway.service.demo"})
_DOCTEST_IMPORT = re.compile(r"^\s*(?:>>>|\.\.\.)\s+(?:from|import)\s+simulators\b", re.MULTILINE)


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``packages`` under ``root``."""
    out: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``mods`` it imports."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges = graph[name] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                found = resolve(target)
                if found is not None and found != name:
                    edges.add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
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


def test_no_import_circles() -> None:
    found = circles(import_graph(modules(ROOT, PACKAGES)))
    assert not found, "import circles (break them: see tests/test_layers.py):\n" + "\n".join(map(str, found))


def test_production_code_never_imports_the_simulators() -> None:
    mods = modules(ROOT, PACKAGES)
    graph = import_graph(mods)
    offenders = sorted(
        f"{name} imports {', '.join(sorted(t for t in graph[name] if t.split('.')[0] == 'simulators'))}"
        for name in graph
        if name.split(".")[0] in PRODUCTION and name not in MAY_IMPORT_SIMULATORS
        and any(t.split(".")[0] == "simulators" for t in graph[name]))
    # Nor may their examples: a doctest runs with the test suite and would make the dependency real.
    offenders += sorted(f"{name}: a docstring example imports simulators" for name, path in mods.items()
                        if name.split(".")[0] in PRODUCTION and name not in MAY_IMPORT_SIMULATORS
                        and _DOCTEST_IMPORT.search(path.read_text(encoding="utf-8")))
    assert not offenders, "\n".join(offenders)


def test_the_checker_finds_a_circle_hidden_in_a_function_or_a_typing_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.b import g\n    return g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "c.py").write_text("from . import a\n")
    graph = import_graph(modules(tmp_path, ("pkg",)))
    assert graph["pkg.c"] == {"pkg.a"}
    assert circles(graph) == [["pkg.a", "pkg.b"]]
