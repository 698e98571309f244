"""The package's import graph: no cycles, and function-level imports only where allowed.

Built with :mod:`ast` from the source, so it sees every import, including the
ones inside functions that ``lint-imports`` (import-linter) does not follow
through lazy-export tables, and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "pytest_selfslo"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
#: subpackages whose functions may import the package's own modules lazily (cheap plugin
#: import, fast ``selfslo --help``): the pytest entry point and the command line
LAZY_IMPORTS_ALLOWED = ("plugin", "cli")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(target module, line, inside a function) for every import of a package module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names
                             if a.name in MODULES)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".") if is_package else module.split(".")[:-1]
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                if not base.startswith(PACKAGE):
                    continue
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    if target in MODULES:
                        found.append((target, child.lineno, in_function))
                    elif base in MODULES:
                        found.append((base, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in {t for t, _, _ in GRAPH[v] if t != v}:
            if w not in index:
                strong(w)
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
                result.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            strong(v)
    return result


def test_the_graph_sees_the_package() -> None:
    assert len(MODULES) > 80
    assert any(t == "pytest_selfslo.promql.values" for t, _, _ in GRAPH["pytest_selfslo.promql.engine"])


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_cycle_detection_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: a fake back edge makes a cycle."""
    fake = dict(GRAPH)
    fake["pytest_selfslo.promql.values"] = [*GRAPH["pytest_selfslo.promql.values"],
                                            ("pytest_selfslo.promql.engine", 1, True)]
    monkeypatch.setattr(f"{__name__}.GRAPH", fake)
    assert ["pytest_selfslo.promql.engine", "pytest_selfslo.promql.values"] in [
        [m for m in c if m in ("pytest_selfslo.promql.engine", "pytest_selfslo.promql.values")]
        for c in _cycles()]


def test_function_level_imports_only_in_plugin_and_cli() -> None:
    allowed = tuple(f"{PACKAGE}.{name}" for name in LAZY_IMPORTS_ALLOWED)
    offenders = [f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {target}"
                 for m, edges in GRAPH.items() if not m.startswith(allowed)
                 for target, line, in_function in edges if in_function]
    assert offenders == []
