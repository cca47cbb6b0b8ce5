"""A broken domain is that code location's error only: every other domain loads and runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT, subprocess_env
from tests.factories import product_yaml, write_consumer_domain, write_domain

DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.fixture
def project_with_broken_domains(tmp_path: Path) -> Path:
    """A copy of the project's HR domain beside a domain with a bad descriptor, one with broken code,
    and one that reads a port of the broken domain (a port its mistake is not in)."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "domains" / "hr", root / "domains" / "hr", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "domains" / "__init__.py").write_text("")
    bad = product_yaml()
    bad["output_ports"][0]["columns"][1]["type"] = "integr"
    write_domain(root, bad)
    write_consumer_domain(root)  # reads shop.sales.daily_sales
    for domain in ("shop", "ledger"):
        (root / "domains" / domain / "definitions.py").write_text(
            "import dagster as dg\nfrom platform_core import build_domain\n\n\n"
            f"@dg.definitions\ndef defs() -> dg.Definitions:\n    return build_domain({domain!r})\n"
        )
    broken_code = root / "domains" / "crm"
    broken_code.mkdir()
    (broken_code / "definitions.py").write_text("from platform_core import build_everything  # no such function\n")
    (root / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}, working_directory: .}}\n"
            for d in ("hr", "shop", "crm", "ledger")
        )
    )
    return root


def test_broken_locations_fail_alone_with_readable_messages(project_with_broken_domains: Path, tmp_path: Path) -> None:
    root = project_with_broken_domains
    env = subprocess_env(tmp_path)
    validate = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = validate.stdout + validate.stderr
    assert validate.returncode == 1
    assert "Validation for 2 code locations failed" in log
    assert "domains/shop/products/sales/product.yaml: output_ports[0].columns[1].type: unknown type 'integr'" in log
    assert "Validation successful for code location ledger" in log
    assert "cannot import name 'build_everything' from 'platform_core'" in log

    run = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*hr/overtime/dim_entity"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "RUN_SUCCESS" in run.stdout + run.stderr
