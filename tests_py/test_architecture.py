"""The Python side's layers are one-way (README: The folders):

* ``loyalty/`` is the core library: it never imports Dagster, dagster-dbt, the code location
  or the developer tools, so it can be used and tested without an orchestrator;
* ``orchestration/`` is the Dagster code location: it uses the core, never the tools;
* ``tools/`` is developer tooling, outside the shipped package;
* no module imports itself back through others (no import cycles), counting imports inside
  functions too: a lazy import hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import PROJECT_DIR

PACKAGES = ("loyalty", "orchestration", "tools")
# what each package must never import (top-level names)
FORBIDDEN = {
    "loyalty": {"dagster", "dagster_dbt", "dagster_webserver", "orchestration", "tools"},
    "orchestration": {"tools"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(path: Path) -> list[tuple[str | None, set[str]]]:
    """Per import statement anywhere in the file: the module of a ``from`` import (None for a
    plain ``import``) and the absolute names it imports (``package.name`` for ``from package
    import name``: a submodule or an attribute of the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    statements: list[tuple[str | None, set[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            statements.append((None, {alias.name for alias in node.names}))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            statements.append((base, {f"{base}.{alias.name}" for alias in node.names}))
    return statements


def imports_of(path: Path) -> set[str]:
    """Every module (and module attribute) named by an import anywhere in the file."""
    return {name for base, names in import_statements(path) for name in {*names, *([base] if base else [])}}


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((PROJECT_DIR / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports. ``from package import submodule`` is an edge
    to the submodule, not to the package (whose ``__init__`` Python runs first, but which the
    importer does not use)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for base, names in import_statements(path):
            submodules = {imported for imported in names if imported in modules}
            edges |= submodules
            if base in modules and len(submodules) < len(names):
                edges.add(base)  # an attribute of the module itself
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state and (cycle := visit(child)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_walk_sees_a_cycle_and_none_in_the_project() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_one_way(package: str) -> None:
    offenders = []
    for name, path in project_modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in sorted(imports_of(path)):
            if imported.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(PROJECT_DIR)} imports {imported}")
    assert not offenders, f"{package}/ must not import {sorted(FORBIDDEN[package])}:\n" + "\n".join(offenders)


def test_the_import_walk_resolves_relative_imports(tmp_path: Path) -> None:
    assert "loyalty.landing.contract" in imports_of(PROJECT_DIR / "loyalty" / "landing" / "loader.py")
    assert "dagster" in imports_of(PROJECT_DIR / "orchestration" / "definitions.py")


def test_the_shipped_package_leaves_the_tools_out() -> None:
    import tomllib

    config = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(included) == ["loyalty*", "orchestration*"]
