"""platform_core's import graph: no module imports itself back, and concerns import downwards only.

The layers, bottom first (README, "Project layout"): what teams write (descriptors) knows nothing
of how it runs; quality, storage and governance build on it; execution runs a product without
Dagster; the catalog reads the mesh; alerts read what the catalog knows; Dagster and the command
line sit on top. An import that climbs a layer, or any loop of imports (lazy ones inside functions
count: they run too), fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT

PACKAGE = PROJECT / "platform_core"
LAYERS = (
    "errors",
    "background",
    "descriptors",
    "quality",
    "storage",
    "settings",
    "governance",
    "execution",
    "serving",
    "catalog",
    "scaffold",
    "alerts",
    "dagster",
    "cli",
    "definitions",
    "__init__",
)


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of platform_core a module imports, wherever in it (a lazy import runs too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if name in known} or ({node.module} & set(known))
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & set(known)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One loop of imports, `[a, b, a]`, or []."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str]:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target, [*trail, target])):
                return found
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index("__init__" if len(parts) == 1 else parts[1])


def test_no_module_of_platform_core_imports_itself_back() -> None:
    assert cycle(graph()) == []


def test_concerns_import_downwards_only() -> None:
    climbing = sorted(
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if layer(target) > layer(source)
    )
    assert climbing == []


def test_the_checks_see_a_loop_and_a_climbing_import() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []
    assert layer("platform_core.descriptors.loader") < layer("platform_core.dagster.factory")
    known = modules()
    assert imports(known["platform_core.dagster.factory"], known) >= {
        "platform_core.descriptors.cache",
        "platform_core.dagster.component",
    }
