"""Domains refer to each other only by address: no domain's code imports another domain."""

from __future__ import annotations

import ast

from tests.conftest import PROJECT


def _imported_modules(tree: ast.AST) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_domain_imports_another_domain() -> None:
    offenders = []
    for path in sorted((PROJECT / "domains").glob("*/**/*.py")):
        own = path.relative_to(PROJECT / "domains").parts[0]
        for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[0] == "domains" and len(parts) > 1 and parts[1] != own:
                offenders.append(f"{path.relative_to(PROJECT)} imports {module}")
    assert offenders == []


def test_the_check_sees_an_offending_import() -> None:
    tree = ast.parse("from domains.hr.sample_data import DIRTY_RECORDS\nimport domains.sales.definitions\n")
    assert _imported_modules(tree) == {"domains.hr.sample_data", "domains.sales.definitions"}
