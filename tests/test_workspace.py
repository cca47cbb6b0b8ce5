"""The workspace as users run it: `mesh check` and `dagster definitions validate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from platform_core.cli import main
from platform_core.descriptors.workspace import read_workspace
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env
from tests.factories import consumer_product_yaml, product_yaml, write_consumer_domain, write_domain


def test_mesh_check_passes_on_the_project() -> None:
    result = CliRunner().invoke(main, ["check", "-w", str(PROJECT / "workspace.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok  hr: 1 product(s)" in result.output


def test_mesh_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    data = product_yaml()
    data["status"] = "live"
    data["output_ports"][1]["columns"][2]["type"] = "money"
    write_domain(tmp_path, data)
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: domains.shop.definitions\n      location_name: shop\n"
    )
    result = CliRunner().invoke(main, ["check", "-w", str(tmp_path / "workspace.yaml")])
    assert result.exit_code == 1
    assert "domains/shop/products/sales/product.yaml: status: Input should be 'draft'" in result.output
    assert (
        "domains/shop/products/sales/product.yaml: output_ports[1].columns[2].type: unknown type 'money'"
        in result.output
    )
    assert "2 problem(s) found; 1 of 1 domain(s) do not load in Dagster" in result.output


def test_mesh_check_says_which_locations_it_does_not_check(tmp_path: Path) -> None:
    write_domain(tmp_path)
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n"
        "  - python_module: {module_name: domains.shop.definitions, location_name: shop}\n"
        "  - python_file: {relative_path: tools/other.py, location_name: other}\n"
        "  - python_module: {module_name: platform_core.definitions, location_name: platform}\n"
    )
    result = CliRunner().invoke(main, ["check", "-w", str(tmp_path / "workspace.yaml")])
    assert result.exit_code == 0, result.output
    assert (
        "note: location 'other' (not a python_module) is not a domain (domains.<name>.definitions), "
        "so its descriptors are not checked"
    ) in result.output
    assert "'platform'" not in result.output


def test_mesh_check_finds_a_loop_of_steps_across_domains(tmp_path: Path) -> None:
    """Each domain loads on its own; only the mesh as a whole shows that they feed each other."""
    shop = product_yaml()
    shop["inputs"].append({"name": "vat", "kind": "port", "address": "ledger.vat.vat_by_day", "purpose": "VAT"})
    shop["output_ports"][1]["depends_on"].append("vat")  # daily_sales now waits for ledger, which reads it
    write_domain(tmp_path, shop)
    ledger = consumer_product_yaml()
    ledger["consumers"] = [{"name": "shop", "product": "shop.sales", "purpose": "VAT beside the daily sales"}]
    write_consumer_domain(tmp_path, ledger)
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n"
            for d in ("shop", "ledger")
        )
    )
    result = CliRunner().invoke(main, ["check", "-w", str(tmp_path / "workspace.yaml")])
    assert result.exit_code == 1, result.output
    assert "ok  shop" in result.output and "ok  ledger" in result.output
    assert (
        "no_step_loops" in result.output
        and (
            "steps of the mesh depend on each other in a loop: "
            "ledger.vat.vat_by_day -> shop.sales.daily_sales -> ledger.vat.vat_by_day"
        )
        in result.output
    )
    assert "1 problem(s) found; 0 of 2 domain(s) do not load in Dagster" in result.output


def test_workspace_lists_domain_locations() -> None:
    domains = [loc.domain for loc in read_workspace(PROJECT / "workspace.yaml") if loc.domain]
    assert "hr" in domains
    assert all((PROJECT / "domains" / d / "definitions.py").is_file() for d in domains)


def test_dagster_definitions_validate_loads_every_location(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dagster_cli_materializes_the_hr_domain(tmp_path: Path) -> None:
    """The command from the README, against a temporary instance and warehouse."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "domains.hr.definitions",
            "--select",
            "*",
        ],
        cwd=PROJECT,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "RUN_SUCCESS" in log and "did not pass" not in log
    warehouse = Warehouse(tmp_path / "warehouse")  # the product is in the lake, read as any reader would
    assert warehouse.read("hr.overtime.payroll_compensation").count("*").fetchall()[0][0] > 0
    assert (tmp_path / "warehouse" / "lake" / "catalog.sqlite").is_file()
    assert not list((tmp_path / "warehouse").rglob("*.json"))  # no pointer files of our own
