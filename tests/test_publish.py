"""Write, audit, publish: a product that fails its contract never replaces the last good version."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from platform_core.dagster.factory import build_domain
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import ORDERS_CSV, product_yaml, write_domain

BAD_ORDERS = ORDERS_CSV + "4,dave,99.00,paid,2026-01-04 08:00:00\n"  # order 4 again: unique_order_id fails


def _daily(warehouse: Warehouse) -> list[tuple]:
    return warehouse.read("shop.sales.daily_sales").order("day").fetchall()


def test_good_run_publishes_every_port_with_checks_green(tmp_path: Path, settings: Settings, instance) -> None:
    defs = build_domain(write_domain(tmp_path), settings)
    result = materialize(defs, instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 12 and all(
        e.passed for e in evaluations
    )  # 10 contract checks (orders' not_null_order_id runs within its schema check), and policies on each port
    warehouse = Warehouse(settings.warehouse_root)
    assert [(str(day), n, str(revenue)) for day, n, revenue in _daily(warehouse)] == [
        ("2026-01-02", 2, "30.50"),
        ("2026-01-03", 1, "7.75"),
    ]
    assert warehouse.read("shop.sales.customers").count("*").fetchall() == [(3,)]
    publication = warehouse.current("shop.sales.customers")  # one commit carried every port of the product
    assert publication.version == "1.0.0" and publication.ports == ("customers", "daily_sales")
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
    failed = {
        (e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed
    }
    assert failed == {("shop/sales/orders", "unique_order_id")}
    # the product is published whole or not at all: no step of it counts as materialized
    assert result.get_asset_materialization_events() == []
    assert {port: warehouse.current(f"shop.sales.{port}") for port in before} == before
    assert _daily(warehouse) == good_rows
    with duckdb.connect(str(warehouse.database("shop"))) as con:  # the live tables are the last good ones too
        assert con.execute('SELECT count(*) FROM "sales"."orders"').fetchall() == [(4,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_staging_%'").fetchall() == [
            (0,)
        ]


def _failure(result: dg.ExecuteInJobResult) -> str:
    (event,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return event.step_failure_data.user_failure_data.description


def test_a_failure_says_whether_ports_were_to_be_published(tmp_path: Path, settings: Settings, instance) -> None:
    domain_dir = write_domain(tmp_path)
    defs = build_domain(domain_dir, settings)
    (domain_dir / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")
    whole = materialize(defs, instance)
    assert _failure(whole).startswith("shop.sales not published; every port keeps its last good version.\n")
    silver = materialize(defs, instance, 'key:"shop/sales/raw_orders" or key:"shop/sales/orders"')  # no port
    assert _failure(silver).startswith(
        "shop.sales not built; its tables keep their last good version (this run publishes no port).\n"
    )
    assert "shop.sales.orders: blocking checks failed (unique_order_id)" in _failure(silver)


def test_warn_rule_failure_still_publishes(tmp_path: Path, settings: Settings, instance) -> None:
    data = product_yaml()
    data["output_ports"][1]["quality"].append(
        {"type": "row_count", "min": 10, "severity": "warn", "name": "enough_days"}
    )
    defs = build_domain(write_domain(tmp_path, data), settings)
    result = materialize(defs, instance)
    assert result.success
    (warning,) = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert warning.check_name == "enough_days" and warning.severity == dg.AssetCheckSeverity.WARN
    assert Warehouse(settings.warehouse_root).current("shop.sales.daily_sales") is not None


def test_checks_alone_audit_the_live_table_and_publish_nothing(tmp_path: Path, settings: Settings, instance) -> None:
    defs = build_domain(write_domain(tmp_path), settings)
    assert materialize(defs, instance).success
    warehouse = Warehouse(settings.warehouse_root)
    publications = warehouse.publications("shop.sales")
    key = dg.AssetKey(["shop", "sales", "daily_sales"])
    checks = dg.define_asset_job("daily_sales_checks", selection=dg.AssetSelection.checks_for_assets(key))
    result = (
        dg.Definitions(assets=defs.assets, jobs=[checks], resources=defs.resources)
        .resolve_job_def("daily_sales_checks")
        .execute_in_process(instance=instance)
    )
    assert result.success
    assert {(e.asset_key, e.check_name, e.passed) for e in result.get_asset_check_evaluations()} == {
        (key, "schema", True),
        (key, "unique_day", True),
        (key, "range_revenue", True),
        (key, "policies", True),
    }
    assert result.get_asset_materialization_events() == []
    assert warehouse.publications("shop.sales") == publications


def test_a_failing_check_run_alone_does_not_undo_what_the_run_published(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain_dir = write_domain(tmp_path)
    assert materialize(build_domain(domain_dir, settings), instance).success
    strict = product_yaml()
    strict["output_ports"][0]["quality"].append({"type": "row_count", "min": 100, "name": "many_customers"})
    defs = build_domain(write_domain(tmp_path, strict), settings)
    customers, daily = dg.AssetKey(["shop", "sales", "customers"]), dg.AssetKey(["shop", "sales", "daily_sales"])
    job = dg.define_asset_job(
        "daily_and_customer_checks",
        selection=dg.AssetSelection.assets(daily) | dg.AssetSelection.checks_for_assets(customers),
    )
    result = (
        dg.Definitions(assets=defs.assets, jobs=[job], resources=defs.resources)
        .resolve_job_def("daily_and_customer_checks")
        .execute_in_process(instance=instance, raise_on_error=False)
    )

    assert not result.success  # the blocking check on the live customers table failed...
    failed = {(e.asset_key, e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {(customers, "many_customers")}
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "many_customers" in error and "not published" not in error
    # ...but daily_sales was built and published, and says so
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [daily]
    assert Warehouse(settings.warehouse_root).current("shop.sales.daily_sales").ports == ("daily_sales",)


def test_a_failed_check_shows_a_few_failing_rows_with_personal_values_masked(
    tmp_path: Path, settings: Settings, instance
) -> None:
    data = product_yaml()
    customer = data["output_ports"][0]["columns"][0]  # customer, in the published port
    customer.update(classification="personal", masking="hash")
    orders = data["layers"]["silver"][0]  # where nobody classified it
    orders["quality"].append({"type": "accepted_values", "column": "customer", "values": ["alice"]})
    defs = build_domain(write_domain(tmp_path, data, files={"data/orders.csv": BAD_ORDERS}), settings)
    result = materialize(defs, instance)
    failed = {e.check_name: e.metadata for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed["unique_order_id"]["failing_rows"].value == 2
    assert failed["unique_order_id"]["sample"].value == [{"order_id": 4}, {"order_id": 4}]  # the key that repeats
    # customer is personal data where the product publishes it, so nowhere in the product do its values
    # show; the rows do, by their key
    assert failed["accepted_values_customer"]["sample"].value == [
        {"order_id": 2, "customer": "***"},
        {"order_id": 3, "customer": "***"},
        {"order_id": 4, "customer": "***"},
    ]
