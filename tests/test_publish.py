"""Write, audit, publish: a product that fails its contract never replaces the last good version."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from platform_core.dagster.factory import build_domain
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import ORDERS_CSV, write_domain

BAD_ORDERS = ORDERS_CSV + "4,dave,99.00,paid,2026-01-04 08:00:00\n"  # order 4 again: unique_order_id fails


def _daily(warehouse: Warehouse) -> list[tuple]:
    return warehouse.read("shop.sales.daily_sales").order("day").fetchall()


def test_good_run_publishes_every_port_with_checks_green(tmp_path: Path, settings: Settings, instance) -> None:
    defs = build_domain(write_domain(tmp_path), settings)
    result = materialize(defs, instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 11 and all(e.passed for e in evaluations)
    warehouse = Warehouse(settings.warehouse_root)
    assert [(str(day), n, str(revenue)) for day, n, revenue in _daily(warehouse)] == [
        ("2026-01-02", 2, "30.50"), ("2026-01-03", 1, "7.75")]
    snapshot = warehouse.current("shop.sales.customers")
    assert snapshot.row_count == 3 and snapshot.product_version == "1.0.0"
    materialization = instance.get_latest_materialization_event(dg.AssetKey(["shop", "sales", "orders"]))
    metadata = materialization.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 4
    lineage = metadata["dagster/column_lineage"].value
    assert lineage.deps_by_column["customer"][0].asset_key == dg.AssetKey(["shop", "sales", "raw_orders"])


def test_blocking_failure_keeps_last_good_version(tmp_path: Path, settings: Settings, instance) -> None:
    domain_dir = write_domain(tmp_path)
    defs = build_domain(domain_dir, settings)
    assert materialize(defs, instance).success
    warehouse = Warehouse(settings.warehouse_root)
    before = {port: warehouse.current(f"shop.sales.{port}") for port in ("customers", "daily_sales")}
    good_rows = _daily(warehouse)

    (domain_dir / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")
    result = materialize(defs, instance)

    assert not result.success
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {("shop/sales/orders", "unique_order_id")}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
                    for e in [e.event_specific_data.materialization]}
    assert materialized == {"shop/sales/raw_orders"}  # orders blocked, so nothing downstream ran
    assert {port: warehouse.current(f"shop.sales.{port}") for port in before} == before
    assert _daily(warehouse) == good_rows
    with warehouse.connect("shop") as con:  # the live silver table is the last good one too
        assert con.execute('SELECT count(*) FROM "sales"."orders"').fetchall() == [(4,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_staging_%'").fetchall() == [(0,)]


def test_warn_rule_failure_still_publishes(tmp_path: Path, settings: Settings, instance) -> None:
    from tests.factories import product_yaml

    data = product_yaml()
    data["output_ports"][1]["quality"].append(
        {"type": "row_count", "min": 10, "severity": "warn", "name": "enough_days"})
    defs = build_domain(write_domain(tmp_path, data), settings)
    result = materialize(defs, instance)
    assert result.success
    (warning,) = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert warning.check_name == "enough_days" and warning.severity == dg.AssetCheckSeverity.WARN
    assert Warehouse(settings.warehouse_root).current("shop.sales.daily_sales") is not None
