"""The import graph of apps/: no cycle among the apps' modules (imports inside functions included,
since a call-time import is how a cycle hides), and selectors never import services (reads sit
below writes). Parsed with ast, so nothing is imported and the test needs no Django."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        _name(p): p
        for p in sorted((ROOT / "apps").rglob("*.py"))
        if "migrations" not in p.relative_to(ROOT).parts
    }


def _resolve(name: str) -> str | None:
    """The apps module `name` refers to: itself, or the module defining the imported attribute."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imports_of(module: str) -> set[str]:
    """Every apps module `module` imports, at module level or inside functions (not under
    `if TYPE_CHECKING:`, which never runs)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit_one(sub)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base_name = ".".join([*base, *([node.module] if node.module else [])])
            targets = [f"{base_name}.{a.name}" for a in node.names]
        else:
            visit(node)
            return
        for target in targets:
            if target.startswith("apps.") and (resolved := _resolve(target)) and resolved != module:
                found.add(resolved)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    return {m: frozenset(imports_of(m)) for m in modules()}


def cycles() -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[frozenset[str]] = set()

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.add(frozenset(component))

    for v in sorted(g):
        if v not in index:
            connect(v)
    return out


def _path(component: frozenset[str]) -> str:
    """One cycle through the component, for the message: a -> b -> ... -> a."""
    g = graph()
    start = min(component)
    seen = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(g[v] & component):
                if w == start:
                    return " -> ".join([*seen[v], start])
                if w not in seen:
                    seen[w] = [*seen[v], w]
                    nxt.append(w)
        frontier = nxt
    return ", ".join(sorted(component))


def test_the_parser_sees_imports_inside_functions():
    found = imports_of("apps.research.views")
    assert {"apps.research.services.runs", "apps.research.models", "apps.strategies.permissions"} <= found
    assert len(modules()) > 40


def test_no_import_cycle_among_the_apps_modules():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(sorted(_path(c) for c in found))


def _selector_modules() -> list[str]:
    return [m for m in modules() if "selectors" in m.split(".")]


# Selectors importing services: none (apps/strategies' evidence reads and errors moved out of its
# services package, so its selectors import them from below).
KNOWN_SELECTOR_IMPORTS: set[tuple[str, str]] = set()


def _selector_imports_of_services() -> set[tuple[str, str]]:
    return {(m, t) for m in _selector_modules() for t in graph()[m] if "services" in t.split(".")}


def test_selectors_never_import_services():
    assert "apps.research.selectors" in _selector_modules()
    bad = _selector_imports_of_services() - KNOWN_SELECTOR_IMPORTS
    assert not bad, "selectors importing services:\n" + "\n".join(f"{m} imports {t}" for m, t in sorted(bad))
