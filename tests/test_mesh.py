"""The mesh as a whole: finance's numbers match what HR and sales published, lineage crosses
three domains, and the platform's catalog lists every product, port and dependency."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from platform_core.dagster.factory import build_domain
from platform_core.dagster.platform_location import build_platform
from platform_core.errors import PlatformError
from platform_core.settings import Settings
from platform_core.storage.usage import Read
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize
from tests.factories import copy_of_the_mesh, product_yaml, write_consumer_domain, write_domain

pytestmark = pytest.mark.xdist_group("mesh")


def _totals(warehouse: Warehouse, address: str, keys: str, value: str) -> dict[tuple, object]:
    rows = warehouse.read(address).aggregate(f"{keys}, sum({value}) AS total").fetchall()
    return {tuple(row[:-1]): row[-1] for row in rows}


def test_accruals_match_hr_overtime_by_entity_and_month(mesh_run) -> None:
    w = mesh_run.warehouse
    assert _totals(
        w, "finance.overtime_accruals.fact_overtime_accruals", "entity_id, period_id", "accrued_amount"
    ) == _totals(w, "hr.overtime.overtime_analysis", "entity_id, period_id", "amount")
    assert _totals(w, "finance.overtime_accruals.fact_overtime_accruals", "currency", "accrued_hours") == _totals(
        w, "hr.overtime.overtime_analysis", "currency", "hours"
    )


def test_cost_ratio_matches_hr_payroll_and_sales_revenue(mesh_run) -> None:
    w = mesh_run.warehouse
    ratio = w.read("finance.overtime_cost_ratio.overtime_cost_to_revenue")
    cost = {(e, p): c for e, p, c in ratio.select("entity_id, period_id, overtime_cost").fetchall()}
    revenue = {(e, p): r for e, p, r in ratio.select("entity_id, period_id, net_revenue").fetchall()}
    assert cost == _totals(w, "hr.overtime.payroll_compensation", "entity_id, period_id", "amount_to_pay")
    assert revenue == _totals(w, "sales.orders.revenue_by_entity_month", "entity_id, period_id", "net_revenue")
    for entity, period, value, ratio_value in ratio.select(
        "entity_id, period_id, overtime_cost, overtime_cost_ratio"
    ).fetchall():
        assert ratio_value == pytest.approx(float(value) / float(revenue[(entity, period)]))


def test_lineage_crosses_three_domains(settings: Settings) -> None:
    defs = build_domain("finance", settings)
    upstream = {
        dep.asset_key.path[0]
        for spec in defs.resolve_all_asset_specs()
        if spec.key.path[0] == "finance"
        for dep in spec.deps
    }
    assert {"hr", "sales", "finance"} <= upstream


def test_catalog_lists_every_product_port_and_dependency(mesh_run, tmp_path: Path) -> None:
    settings = Settings(warehouse_root=tmp_path / "warehouse", workspace=PROJECT / "workspace.yaml")
    read = Read(datetime.now(UTC), "python", "rita", "hr.overtime.dim_entity", ("entity_id",), purpose="Entity list")
    settings.usage.record([read])
    result = materialize(build_platform(settings), mesh_run.instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    warehouse = Warehouse(settings.warehouse_root)
    products = warehouse.read("platform.mesh.catalog_products").select("address").fetchall()
    assert {a for (a,) in products} == {
        "hr.overtime",
        "sales.orders",
        "finance.overtime_accruals",
        "finance.overtime_cost_ratio",
    }
    ports = warehouse.read("platform.mesh.catalog_ports")
    (row,) = (
        ports.filter("address = 'hr.overtime.dim_employee'")
        .select("owner_name, classification, consumers, columns")
        .fetchall()
    )
    assert row[0] == "HR Data" and row[1] == "personal"
    assert {c["name"] for c in row[2]} == {
        "managers",
        "payroll",
        "hr_business_partners",
        "finance_accruals",
        "finance_cost_ratio",
    }
    assert {c["name"]: c["classification"] for c in row[3]}["email"] == "personal"
    assert ports.count("*").fetchall()[0][0] == sum(
        mesh_run.warehouse.current(a) is not None for (a,) in ports.select("address").fetchall()
    )
    edges = warehouse.read("platform.mesh.dependencies").select("consumer, producer_address, cross_domain").fetchall()
    assert set(edges) == {
        ("finance.overtime_accruals", "hr.overtime.overtime_analysis", True),
        ("finance.overtime_cost_ratio", "hr.overtime.fact_overtime", True),  # through HR's metrics
        ("finance.overtime_cost_ratio", "hr.overtime.dim_entity", True),
        ("finance.overtime_cost_ratio", "sales.orders.revenue_by_entity_month", True),
    }
    site = (settings.site_root / "products" / "hr.overtime.html").read_text(encoding="utf-8")  # rebuilt with it
    assert "Healthy: published, fresh, and every check passed" in site
    (publication,) = warehouse.publications("platform.mesh")  # the four tables, in one commit
    assert publication.ports == ("catalog_ports", "catalog_products", "dependencies", "port_reads")
    reads = warehouse.read("platform.mesh.port_reads").select("reader, address, columns, purpose").fetchall()
    assert reads == [("rita", "hr.overtime.dim_entity", ["entity_id"], "Entity list")]  # the usage journal, queryable

    # its checks alone audit the published tables again and publish nothing
    platform = build_platform(settings)
    key = dg.AssetKey(["platform", "mesh", "catalog_ports"])
    job = dg.define_asset_job("catalog_port_checks", selection=dg.AssetSelection.checks_for_assets(key))
    checks = (
        dg.Definitions(assets=platform.assets, jobs=[job], resources=platform.resources)
        .resolve_job_def("catalog_port_checks")
        .execute_in_process(instance=mesh_run.instance)
    )
    assert checks.success and checks.get_asset_materialization_events() == []
    assert {(e.asset_key, e.check_name, e.passed) for e in checks.get_asset_check_evaluations()} == {
        (key, "schema", True),  # a product like any other: its contract's columns and types
        (key, "every_domain_loads", True),
        (key, "unique_address", True),
        (key, "not_null_classification", True),
    }
    assert warehouse.publications("platform.mesh") == [publication]


def test_catalog_reports_broken_domains_and_lists_the_others(tmp_path: Path, instance) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "domains" / "hr", root / "domains" / "hr", ignore=shutil.ignore_patterns("__pycache__"))
    bad = product_yaml()
    bad["status"] = "live"
    write_domain(root, bad)
    (root / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n" for d in ("hr", "shop")
        )
    )
    settings = Settings(warehouse_root=tmp_path / "warehouse", workspace=root / "workspace.yaml")
    result = materialize(build_platform(settings), instance)
    assert result.success  # the warning does not block publication
    warnings = {(e.asset_key.path[-1], e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert warnings == {(t, "every_domain_loads") for t in ("catalog_products", "catalog_ports", "dependencies")}
    products = Warehouse(settings.warehouse_root).read("platform.mesh.catalog_products").select("address").fetchall()
    assert products == [("hr.overtime",)]
    event = next(e for e in result.get_asset_check_evaluations() if not e.passed)
    assert "status: Input should be 'draft'" in str(event.metadata["problems"].value)
    assert event.severity == dg.AssetCheckSeverity.WARN


def test_catalog_warns_of_a_loop_of_steps_across_domains(tmp_path: Path, instance) -> None:
    """Each domain of a loop loads and runs; the platform's dependency table is where it shows."""
    root = tmp_path / "project"
    shop = product_yaml()
    shop["inputs"].append({"name": "vat", "kind": "port", "address": "ledger.vat.vat_by_day"})
    shop["output_ports"][1]["depends_on"].append("vat")
    write_domain(root, shop)
    write_consumer_domain(root)
    (root / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n"
            for d in ("shop", "ledger")
        )
    )
    settings = Settings(warehouse_root=tmp_path / "warehouse", workspace=root / "workspace.yaml")
    result = materialize(build_platform(settings), instance)
    assert result.success
    (warning,) = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert (warning.asset_key.path[-1], warning.check_name) == ("dependencies", "no_step_loops")
    assert (
        warning.metadata["problems"].value == "ledger.vat.vat_by_day -> shop.sales.daily_sales -> ledger.vat.vat_by_day"
    )


def test_dropping_a_column_consumers_read_without_a_new_major_is_refused(mesh_run, tmp_path: Path) -> None:
    """The contract HR was last published under is in the lake; finance reads overtime_analysis."""
    descriptor = copy_of_the_mesh(tmp_path) / "hr" / "products" / "overtime" / "product.yaml"
    text = descriptor.read_text()
    dropped = "      - {name: currency, type: string, nullable: false, description: Currency of amount.}\n"
    assert dropped in text
    descriptor.write_text(text.replace(dropped, ""))
    settings = Settings(warehouse_root=mesh_run.warehouse.root)
    with pytest.raises(PlatformError) as raised:
        build_domain(descriptor.parent.parent.parent, settings)
    (problem,) = [str(p) for p in raised.value.problems]
    assert problem.startswith(
        "domains/hr/products/overtime/product.yaml: output_ports[8].columns: [breaking_changes_need_major] "
        "overtime_analysis.currency removed (published as 1.1.0); it would break finance.overtime_accruals (1 read, "
        f"last {datetime.now(UTC).date().isoformat()})"  # its run read it, and its SQL does
    )
    assert problem.endswith(
        "(fix: raise the major version (and keep the previous major published with `previous` until its consumers "
        "move))"
    )
    descriptor.write_text(descriptor.read_text().replace("\nversion: 1.1.0\n", "\nversion: 2.0.0\n"))
    assert build_domain(descriptor.parent.parent.parent, settings).assets  # a new major says it


def test_the_catalog_refreshes_when_a_domain_publishes_or_a_descriptor_changes(tmp_path: Path) -> None:
    domains = copy_of_the_mesh(tmp_path)
    workspace = domains.parent / "workspace.yaml"
    shutil.copy(PROJECT / "workspace.yaml", workspace)
    platform = build_platform(Settings(warehouse_root=tmp_path / "warehouse", workspace=workspace))
    (sensor,) = [s for s in platform.sensors if s.name == "platform__catalog__sensor"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert not [s for s in platform.schedules if "catalog" in s.name]  # no clock: changes drive it
    with dg.instance_for_test() as instance:

        def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
            result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
            return result.run_requests or [], result.cursor or cursor

        requests, cursor = tick(None)  # the platform starts: the catalog and site are built at once
        (target,) = sensor.targets
        assert len(requests) == 1 and set(target.resolvable_to_job.selection.selected_keys) == {
            *(
                dg.AssetKey(["platform", "mesh", t])
                for t in ("catalog_products", "catalog_ports", "dependencies", "port_reads")
            ),
            dg.AssetKey(["platform", "mesh", "docs_site"]),
        }
        assert tick(cursor)[0] == []  # nothing changed
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["hr", "overtime", "dim_entity"])))
        requests, cursor = tick(cursor)
        assert len(requests) == 1  # a domain published
        assert tick(cursor)[0] == []
        descriptor = domains / "sales" / "products" / "orders" / "product.yaml"
        descriptor.write_text(
            descriptor.read_text(encoding="utf-8").replace("title: ", "title: New ", 1), encoding="utf-8"
        )
        requests, cursor = tick(cursor)
        assert len(requests) == 1  # a descriptor changed
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["platform", "mesh", "catalog_ports"])))
        assert tick(cursor)[0] == []  # its own publication does not wake it: no loop
