"""Domains reading each other's published ports: addresses, order, values, automation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.errors import PlatformError
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import (
    LEDGER_SQL,
    consumer_product_yaml,
    copy_of_the_mesh,
    product_yaml,
    write_consumer_domain,
    write_domain,
)

FILE = "domains/ledger/products/vat/product.yaml"


@pytest.mark.parametrize(
    "address, message",
    [
        (
            "shop.sales.orders",
            "shop.sales.orders is an internal silver table of shop.sales, not an output port; "
            "it publishes: customers, daily_sales",
        ),
        (
            "shop.sales.raw_orders",
            "shop.sales.raw_orders is an internal bronze table of shop.sales, not an output port; "
            "it publishes: customers, daily_sales",
        ),
        (
            "shop.sales.weekly_sales",
            "shop.sales.weekly_sales: shop.sales has no output port 'weekly_sales'; "
            "it publishes: customers, daily_sales",
        ),
        (
            "shop.returns.daily_sales",
            "shop.returns.daily_sales: domain 'shop' has no product 'returns'; products: sales",
        ),
        ("crm.sales.daily_sales", "crm.sales.daily_sales: there is no domain 'crm'; domains: ledger, shop"),
        ("ledger.vat.vat_by_day", "ledger.vat.vat_by_day is in this product; depend on it by name"),
        (
            "shop.daily_sales",
            "bad address 'shop.daily_sales': write it as <domain>.<product>.<port>, "
            "e.g. hr.overtime.fact_overtime (with @<major> to pin a major version: "
            "hr.overtime.fact_overtime@1)",
        ),
    ],
)
def test_address_errors_name_the_address_and_the_ports_that_exist(tmp_path: Path, address: str, message: str) -> None:
    write_domain(tmp_path)
    with pytest.raises(PlatformError) as raised:
        load_domain(write_consumer_domain(tmp_path, consumer_product_yaml(address)))
    assert [str(p) for p in raised.value.problems] == [f"{FILE}: inputs[0].address: {message}"]


def test_a_mistake_elsewhere_in_the_producer_is_not_the_consumers_error(tmp_path: Path) -> None:
    producer = product_yaml()
    producer["layers"]["silver"][0]["columns"][1]["type"] = "integr"  # not in the addressed port
    write_domain(tmp_path, producer)
    with pytest.raises(PlatformError, match="unknown type 'integr'"):
        load_domain(tmp_path / "domains" / "shop")
    consumer = load_domain(write_consumer_domain(tmp_path))
    assert [p.name for p in consumer.products] == ["vat"]


def test_a_broken_addressed_port_is_named_in_the_consumers_error(tmp_path: Path) -> None:
    producer = product_yaml()
    producer["output_ports"][1]["columns"][0]["type"] = "integr"  # daily_sales, which ledger reads
    write_domain(tmp_path, producer)
    with pytest.raises(PlatformError) as raised:
        load_domain(write_consumer_domain(tmp_path))
    assert [str(p) for p in raised.value.problems] == [
        f"{FILE}: inputs[0].address: shop.sales.daily_sales: the producer's contract for this port is invalid "
        "(1 problem(s); run mesh check on domains/shop/products/sales/product.yaml)"
    ]


def test_consumer_reads_the_producers_published_port(tmp_path: Path, settings: Settings, instance) -> None:
    shop = build_domain(write_domain(tmp_path), settings)
    ledger = build_domain(write_consumer_domain(tmp_path), settings)
    vat_key = dg.AssetKey(["ledger", "vat", "vat_by_day"])
    (spec,) = [s for s in ledger.resolve_all_asset_specs() if s.key == vat_key]
    assert [d.asset_key for d in spec.deps] == [dg.AssetKey(["shop", "sales", "daily_sales"])]

    early = materialize(ledger, instance)  # the producer has not published yet
    assert not early.success
    assert "port shop.sales.daily_sales has not been published yet" in str(
        early.get_step_failure_events()[0].event_specific_data.error
    )

    assert materialize(shop, instance).success
    assert materialize(ledger, instance).success
    warehouse = Warehouse(settings.warehouse_root)
    revenue = dict(warehouse.read("shop.sales.daily_sales").select("day, revenue").fetchall())
    vat = warehouse.read("ledger.vat.vat_by_day").select("day, revenue, vat").fetchall()
    assert {day: rev for day, rev, _ in vat} == revenue
    assert all(v == round(r * 2 / 10, 2) for _, r, v in vat)
    lineage = (
        instance.get_latest_materialization_event(vat_key)
        .asset_materialization.metadata["dagster/column_lineage"]
        .value
    )
    assert lineage.deps_by_column["revenue"] == [
        dg.TableColumnDep(asset_key=dg.AssetKey(["shop", "sales", "daily_sales"]), column_name="revenue")
    ]


def test_consumers_follow_upstream_updates_through_automation(tmp_path: Path, settings: Settings, instance) -> None:
    shop = build_domain(write_domain(tmp_path), settings)
    ledger = build_domain(write_consumer_domain(tmp_path), settings)
    vat_key = dg.AssetKey(["ledger", "vat", "vat_by_day"])
    (spec,) = [s for s in ledger.resolve_all_asset_specs() if s.key == vat_key]
    assert spec.automation_condition == dg.AutomationCondition.eager()
    assert [s.name for s in ledger.sensors] == ["ledger__follow_upstream_ports"]

    assert materialize(shop, instance).success
    assert materialize(ledger, instance).success
    result = dg.evaluate_automation_conditions(defs=ledger, instance=instance)
    assert result.total_requested == 0  # up to date with its producer

    assert materialize(shop, instance, "shop/sales/daily_sales").success  # the producer publishes again
    result = dg.evaluate_automation_conditions(defs=ledger, instance=instance, cursor=result.cursor)
    assert result.get_requested_partitions(vat_key) == {None}
    result = dg.evaluate_automation_conditions(defs=ledger, instance=instance, cursor=result.cursor)
    assert result.total_requested == 0  # requested once, not on every tick


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: object) -> tuple[set[dg.AssetKey], object]:
    """One tick of the domain's automation sensor, and the run it requests, as the daemon would."""
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    requested = {r.key for r in result.results if isinstance(r.key, dg.AssetKey) and r.true_subset.size}
    if requested:
        assert dg.materialize(
            list(defs.assets),
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.assets(*requested),
        ).success
    return requested, result.cursor


def test_on_a_fresh_warehouse_automation_completes_every_consumer_product(tmp_path: Path, instance) -> None:
    """Only the producers are materialized by hand; finance's automation builds the rest: its own
    sources once when found missing, then every step that follows hr's and sales' ports."""
    domains = copy_of_the_mesh(tmp_path)
    settings = Settings(warehouse_root=tmp_path / "warehouse")
    finance = build_domain(domains / "finance", settings)
    specs = {spec.key: spec for spec in finance.resolve_all_asset_specs()}
    own, cursor = _tick(finance, instance, None)  # the sensor starts: nothing is published yet
    assert own and all(d.asset_key.path[0] == "finance" for key in own for d in specs[key].deps)
    assert _tick(finance, instance, cursor)[0] == set()  # built once, not on every tick
    for producer in ("hr", "sales"):
        assert materialize(build_domain(domains / producer, settings), instance).success
    following, cursor = _tick(finance, instance, cursor)
    every = {key for key in specs if key.path[0] == "finance"}
    assert own | following == every, every - own - following
    assert _tick(finance, instance, cursor)[0] == set()
    assert all(instance.get_latest_materialization_event(key) for key in every)


def test_a_producer_that_fails_its_checks_triggers_no_consumer(tmp_path: Path, settings: Settings, instance) -> None:
    shop = build_domain(write_domain(tmp_path), settings)
    ledger = build_domain(write_consumer_domain(tmp_path), settings)
    assert materialize(shop, instance).success and materialize(ledger, instance).success
    result = dg.evaluate_automation_conditions(defs=ledger, instance=instance)
    assert result.total_requested == 0
    warehouse = Warehouse(settings.warehouse_root)
    published = warehouse.current("shop.sales.daily_sales")

    strict = product_yaml()  # the same product, now with a blocking rule its data breaks
    strict["output_ports"][1]["quality"].append({"type": "row_count", "min": 1000})
    failing = build_domain(write_domain(tmp_path, strict), settings)
    assert not materialize(failing, instance, "shop/sales/daily_sales").success

    result = dg.evaluate_automation_conditions(defs=ledger, instance=instance, cursor=result.cursor)
    assert result.total_requested == 0  # nothing new was published, so the consumer stays put
    assert warehouse.current("shop.sales.daily_sales") == published  # and reads the last good version


def test_products_of_one_domain_reading_each_other_in_a_loop_are_refused(tmp_path: Path) -> None:
    """sales.enriched reads extra.x, which reads sales.daily_sales: no loop of steps, but one run
    would build sales twice and publish it in two commits."""
    sales = product_yaml()
    sales["inputs"].append({"name": "x", "kind": "port", "address": "shop.extra.x"})
    sales["output_ports"].append(
        {
            "name": "enriched",
            "kind": "view",
            "description": "Days again.",
            "sql": "sql/enriched.sql",
            "depends_on": ["x"],
            "columns": [{"name": "day", "type": "date", "description": "Day."}],
        }
    )
    extra = {**consumer_product_yaml("shop.sales.daily_sales"), "name": "extra", "domain": "shop"}
    extra["output_ports"] = [{**extra["output_ports"][0], "name": "x"}]
    domain_dir = write_domain(
        tmp_path,
        sales,
        files={
            "products/sales/sql/enriched.sql": "SELECT day FROM x",
            "products/extra/product.yaml": yaml.safe_dump(extra, sort_keys=False),
            "products/extra/sql/vat_by_day.sql": LEDGER_SQL,
        },
    )
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    assert [str(p) for p in raised.value.problems] == [
        "domains/shop/products/extra/product.yaml: inputs: products of domain 'shop' read each other's ports in a "
        "loop (extra -> sales -> extra): a run would have to build one of them twice and could not publish it "
        "whole; move the steps that close the loop into one product"
    ]
