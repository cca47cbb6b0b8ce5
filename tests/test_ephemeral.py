"""Ephemeral steps: kept only for the run that builds them, built again by a run that needs them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from platform_core.dagster.factory import build_domain
from platform_core.errors import PlatformError
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import ORDERS_CSV, product_yaml, write_domain
from tests.test_publish import BAD_ORDERS

SHOP = ("shop", "sales")


def _ephemeral(layers: tuple[str, ...] = ("bronze",), steps: tuple[str, ...] = ("orders",)) -> dict:
    """The shop product with whole layers, and single steps, marked ephemeral."""
    product = product_yaml()
    product["layers"]["ephemeral"] = list(layers)
    for layer in ("bronze", "silver", "gold"):
        for step in product["layers"].get(layer, []):
            if step["name"] in steps:
                step["ephemeral"] = True
    return product


def _tables(settings: Settings) -> set[str]:
    """The tables of the shop's compute database, after its runs: what is kept."""
    with duckdb.connect(str(settings.warehouse().database("shop")), read_only=True) as con:
        return {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _ports(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {port: sorted(warehouse.read(f"shop.sales.{port}").fetchall()) for port in ("customers", "daily_sales")}


def _materialized(result: dg.ExecuteInJobResult) -> list[str]:
    return sorted(e.asset_key.path[-1] for e in result.get_asset_materialization_events())


def test_ephemeral_layers_are_not_kept_and_publish_what_kept_ones_do(tmp_path: Path, settings: Settings, instance):
    kept = Settings(warehouse_root=tmp_path / "kept", workspace=settings.workspace)
    assert materialize(build_domain(write_domain(tmp_path / "a"), kept), instance).success
    result = materialize(build_domain(write_domain(tmp_path / "b", _ephemeral()), settings), instance)
    assert result.success
    assert _ports(settings.warehouse()) == _ports(kept.warehouse())  # the same data, published
    assert _materialized(result) == ["customers", "daily_sales", "orders", "raw_orders"]  # every asset reported
    metadata = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert (
        metadata["orders"]["dagster/row_count"].value == 4
        and "lives only for the run" in metadata["orders"]["kept"].value
    )
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("orders", "unique_order_id")] and checks[("orders", "schema")]  # audited like any step
    assert _tables(settings) == set()  # the ports are kept in the lake alone; no staging, no temporary table
    assert _tables(kept) == {"raw_orders", "orders"}  # the positive control: kept steps are kept


def test_a_subset_run_builds_the_ephemeral_steps_it_reads_again_and_reports_only_its_own(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain = write_domain(tmp_path, _ephemeral())
    defs = build_domain(domain, settings)
    assert materialize(defs, instance).success
    later = ORDERS_CSV + "5,erin,12.00,paid,2026-01-04 10:00:00\n"
    (domain / "data" / "orders.csv").write_text(later, encoding="utf-8")
    result = materialize(defs, instance, "shop/sales/daily_sales")
    assert result.success
    assert _materialized(result) == ["daily_sales"]  # bronze and silver were built, for this run only
    assert {e.asset_key.path[-1] for e in result.get_asset_check_evaluations()} == {"daily_sales"}
    days = [(str(day), n) for day, n, _ in settings.warehouse().read("shop.sales.daily_sales").order("day").fetchall()]
    assert days == [("2026-01-02", 2), ("2026-01-03", 1), ("2026-01-04", 1)]  # from the new file, through them
    assert _tables(settings) == set()


def _checks_of(defs: dg.Definitions, step: str, instance) -> dg.ExecuteInJobResult:
    job = dg.define_asset_job("checks", selection=dg.AssetSelection.checks_for_assets(dg.AssetKey([*SHOP, step])))
    return (
        dg.Definitions(assets=defs.assets, jobs=[job], resources=defs.resources)
        .resolve_job_def("checks")
        .execute_in_process(instance=instance, raise_on_error=False)
    )


def test_checks_of_an_ephemeral_step_build_it_and_report_without_a_materialization(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain = write_domain(tmp_path, _ephemeral())
    defs = build_domain(domain, settings)
    result = _checks_of(defs, "orders", instance)
    assert result.success and result.get_asset_materialization_events() == []
    assert {(e.check_name, e.passed) for e in result.get_asset_check_evaluations()} == {
        ("schema", True),
        ("unique_order_id", True),
        ("accepted_values_status", True),
    }
    # a kept port's checks read its kept table: nothing is built again, not even from its source file
    assert materialize(defs, instance).success
    (domain / "data" / "orders.csv").unlink()
    result = _checks_of(defs, "daily_sales", instance)
    assert result.success and {e.check_name for e in result.get_asset_check_evaluations()} >= {"schema", "unique_day"}
    assert not _checks_of(defs, "orders", instance).success  # the control: an ephemeral step's checks build it


def test_an_ephemeral_step_that_fails_stops_what_reads_it_and_nothing_is_published(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain = write_domain(tmp_path, _ephemeral())
    defs = build_domain(domain, settings)
    assert materialize(defs, instance).success
    before = _ports(settings.warehouse())
    (domain / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")  # unique_order_id fails in `orders`
    result = materialize(defs, instance, "shop/sales/daily_sales")
    assert not result.success
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "shop.sales.orders: blocking checks failed (unique_order_id)" in error
    assert "shop.sales.daily_sales: not built: orders failed" in error
    assert _ports(settings.warehouse()) == before
    assert _tables(settings) == set()


def test_a_step_made_ephemeral_loses_its_kept_table_with_the_next_publication(
    tmp_path: Path, settings: Settings, instance
) -> None:
    assert materialize(build_domain(write_domain(tmp_path), settings), instance).success
    assert _tables(settings) == {"raw_orders", "orders"}
    assert materialize(build_domain(write_domain(tmp_path, _ephemeral()), settings), instance).success
    assert _tables(settings) == set()


def test_a_port_cannot_be_ephemeral(tmp_path: Path, settings: Settings) -> None:
    product = _ephemeral(layers=("bronze", "silver", "gold"))  # a layer's ports are kept all the same
    assert build_domain(write_domain(tmp_path / "layers", product), settings) is not None
    product["output_ports"][1]["ephemeral"] = True
    with pytest.raises(PlatformError, match="a port is published and kept: it cannot be ephemeral"):
        build_domain(write_domain(tmp_path, product), settings)


def test_a_compute_memory_limit_holds_the_ephemeral_layers_within_it(tmp_path: Path, settings: Settings, instance):
    """MESH_COMPUTE_MEMORY: the compute database writes what does not fit to its temporary files."""
    from dataclasses import replace

    from platform_core.dagster.resources import compute_resource

    limited = replace(settings, compute_memory="64MB")
    assert compute_resource(limited, "shop").connection_config == {"memory_limit": "64MB"}
    assert compute_resource(settings, "shop").connection_config == {}  # unset: DuckDB's default
    result = materialize(build_domain(write_domain(tmp_path, _ephemeral()), limited), instance)
    assert result.success and _tables(limited) == set()
    assert Settings.from_env({"MESH_COMPUTE_MEMORY": "2GB"}).compute_memory == "2GB"
    with pytest.raises(ValueError, match="MESH_COMPUTE_MEMORY='plenty': write a size such as 2GB"):
        Settings.from_env({"MESH_COMPUTE_MEMORY": "plenty"})


def test_a_port_is_kept_in_the_lake_alone_and_a_step_that_reads_it_reads_its_publication(
    tmp_path: Path, settings: Settings, instance
) -> None:
    product = product_yaml()
    busy_days = {
        "name": "busy_days",
        "kind": "view",
        "description": "Days with two paid orders or more.",
        "classification": "internal",
        "sql": "sql/busy_days.sql",
        "depends_on": ["daily_sales"],
        "columns": [{"name": "day", "type": "date", "description": "Day.", "unique": True}],
    }
    product["output_ports"].append(busy_days)
    sql = {"products/sales/sql/busy_days.sql": "SELECT day FROM daily_sales WHERE orders >= 2"}
    domain = write_domain(tmp_path, product, files=sql)
    defs = build_domain(domain, settings)
    assert not materialize(defs, instance, "shop/sales/busy_days").success  # daily_sales was never published
    assert materialize(defs, instance).success
    assert _tables(settings) == {"raw_orders", "orders"}  # the compute database keeps no port
    warehouse = settings.warehouse()
    assert [str(day) for (day,) in warehouse.read("shop.sales.busy_days").fetchall()] == ["2026-01-02"]

    # two more paid orders on 2026-01-03: busy_days alone reads daily_sales as published, without them
    more = ORDERS_CSV + "5,erin,12.00,paid,2026-01-03 10:00:00\n6,fred,8.00,paid,2026-01-03 11:00:00\n"
    (domain / "data" / "orders.csv").write_text(more, encoding="utf-8")
    assert materialize(defs, instance, "shop/sales/busy_days").success
    assert [str(day) for (day,) in warehouse.read("shop.sales.busy_days").fetchall()] == ["2026-01-02"]
    assert materialize(defs, instance, "*shop/sales/daily_sales").success  # published: now busy_days sees them
    assert materialize(defs, instance, "shop/sales/busy_days").success
    days = sorted(str(day) for (day,) in warehouse.read("shop.sales.busy_days").fetchall())
    assert days == ["2026-01-02", "2026-01-03"]
