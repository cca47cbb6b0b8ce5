"""What the factory builds from a descriptor: keys, deps, metadata, checks, freshness, schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg

from platform_core.dagster.factory import build_domain
from platform_core.settings import Settings
from tests.factories import product_yaml, write_domain


def _specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_one_asset_per_step_with_keys_and_deps(tmp_path: Path, settings: Settings) -> None:
    specs = _specs(build_domain(write_domain(tmp_path), settings))
    assert sorted(specs) == [
        "shop/sales/customers",
        "shop/sales/daily_sales",
        "shop/sales/orders",
        "shop/sales/raw_orders",
    ]
    deps = {key: sorted(d.asset_key.to_user_string() for d in spec.deps) for key, spec in specs.items()}
    assert deps == {
        "shop/sales/raw_orders": [],
        "shop/sales/orders": ["shop/sales/raw_orders"],
        "shop/sales/customers": ["shop/sales/orders"],
        "shop/sales/daily_sales": ["shop/sales/orders"],
    }


def test_asset_metadata_owners_tags_kinds(tmp_path: Path, settings: Settings) -> None:
    spec = _specs(build_domain(write_domain(tmp_path), settings))["shop/sales/customers"]
    assert spec.group_name == "shop"
    assert spec.owners == ["team:shop-data", "shop@example.com"]
    assert spec.description == "Orders per customer."
    assert spec.tags["layer"] == "gold" and spec.tags["port"] == "table"
    assert spec.tags["classification"] == "confidential" and spec.tags["demo"] == ""
    assert spec.kinds == {"duckdb", "pandas", "ducklake"}  # computed in DuckDB by pandas, published to the lake
    schema = spec.metadata["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [("customer", "string"), ("order_count", "integer")]
    assert schema.columns[0].constraints.unique and schema.columns[0].description == "Customer name. [confidential]"
    assert spec.metadata["address"] == "shop.sales.customers"
    assert spec.metadata["dagster/table_name"] == "lake.shop.sales__customers"  # where a reader queries it


def test_checks_are_declared_with_blocking_by_severity(tmp_path: Path, settings: Settings) -> None:
    product = product_yaml()
    product["output_ports"][1]["quality"].append(
        {"type": "row_count", "min": 1000, "severity": "warn"}
    )  # a warning, never blocking
    defs = build_domain(write_domain(tmp_path, product), settings)
    checks = {(c.asset_key.to_user_string(), c.name): c for a in defs.assets for c in a.check_specs}
    assert sorted(name for key, name in checks if key == "shop/sales/orders") == [
        "accepted_values_status",
        "schema",  # it runs not_null_order_id too, which `nullable: false` implies
        "unique_order_id",
    ]
    assert checks[("shop/sales/orders", "schema")].description == (
        "Produced columns and types match the contract, and these columns hold no null: order_id."
    )
    blocking = {name: c.blocking for (key, name), c in checks.items() if key == "shop/sales/daily_sales"}
    assert blocking == {
        "schema": True,
        "unique_day": True,
        "range_revenue": True,
        "row_count": False,
        "policies": False,
    }  # governance warnings never block
    assert all(
        c.blocking for (key, name), c in checks.items() if key != "shop/sales/daily_sales" and name != "policies"
    )


def test_freshness_and_schedule_come_from_the_descriptor(tmp_path: Path, settings: Settings) -> None:
    defs = build_domain(write_domain(tmp_path), settings)
    for spec in defs.resolve_all_asset_specs():
        assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)
        )
    (schedule,) = defs.schedules
    assert schedule.name == "shop__sales__schedule"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "Europe/Paris")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def(schedule.job_name)
    assert len(job.asset_layer.selected_asset_keys) == 4


def test_platform_default_freshness_applies_to_a_draft_without_sla(tmp_path: Path, settings: Settings) -> None:
    data = product_yaml()
    data["status"] = "draft"  # past draft, a product must commit to an SLA (policy sla_and_schedule)
    del data["sla"]
    defs = build_domain(write_domain(tmp_path, data), settings)
    spec = next(iter(defs.resolve_all_asset_specs()))
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=48), warn_window=timedelta(hours=24)
    )


def test_a_domain_is_built_once_per_process_until_its_files_change(tmp_path: Path, settings: Settings) -> None:
    """Dagster asks for a location's definitions several times per process: the same files give
    the same definitions, without reading them again; any change to them, a new build."""
    domain_dir = write_domain(tmp_path)
    first = build_domain(domain_dir, settings)
    assert build_domain(domain_dir, settings) is first
    sql = domain_dir / "products" / "sales" / "sql" / "daily_sales.sql"
    sql.write_text(sql.read_text(encoding="utf-8").replace("count(*)", "COUNT(*)"), encoding="utf-8")  # same size
    changed = build_domain(domain_dir, settings)
    assert changed is not first
    assert build_domain(domain_dir, Settings(warehouse_root=tmp_path / "elsewhere")) is not changed
