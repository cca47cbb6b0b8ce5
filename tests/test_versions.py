"""Versions that never break a consumer by surprise: every change to a published contract judged
from both sides, a breaking one only with a new major, and the previous major published beside
the new one until its sunset."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.contract import contract_document
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import Product
from platform_core.errors import PlatformError
from platform_core.governance.changes import changes
from platform_core.governance.evaluate import govern, mesh_context
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import (
    consumer_product_yaml,
    product_yaml,
    write_consumer_domain,
    write_domain,
    write_major_two,
)


def _product(tmp_path: Path, data: dict) -> Product:
    return load_domain(write_domain(tmp_path, data)).products[0]


def _daily(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    """An edit of the daily_sales port."""
    return lambda data: edit(data["output_ports"][1])


def _column(name: str, **fields: object) -> Callable[[dict], None]:
    def edit(port: dict) -> None:
        (column,) = [c for c in port["columns"] if c["name"] == name]
        column.update(fields)

    return _daily(edit)


def _rule(rule: dict | None, replaces: str | None = None) -> Callable[[dict], None]:
    def edit(port: dict) -> None:
        port["quality"] = [r for r in port["quality"] if r["type"] != replaces] + ([rule] if rule else [])

    return _daily(edit)


def _set(**fields: object) -> Callable[[dict], None]:
    return lambda data: data.update(fields)


def _same(data: dict) -> None:
    pass


def _drop_revenue(port: dict) -> None:
    port["columns"] = [c for c in port["columns"] if c["name"] != "revenue"]
    port["quality"] = []


def _rename_revenue(port: dict) -> None:
    port["columns"][2]["name"] = "paid_revenue"
    port["quality"] = [{"type": "range", "column": "paid_revenue", "min": 0}]


VALUES = {"type": "accepted_values", "column": "orders", "values": [1, 2, 3]}
# (the contract as published, the descriptor now, the changes found: (what, whom it breaks))
CHANGES = {
    "a column removed": (
        _same,
        _daily(_drop_revenue),
        {("daily_sales.revenue removed", "consumers"), ("daily_sales: range rule on revenue removed", "consumers")},
    ),
    "a column renamed": (
        _same,
        _daily(_rename_revenue),
        {
            ("daily_sales.revenue removed", "consumers"),
            ("daily_sales.paid_revenue added", "nothing"),
            ("daily_sales: range rule on revenue removed", "consumers"),
            ("daily_sales: range rule on paid_revenue added", "producer"),
        },
    ),
    "a type narrowed": (
        _same,
        _column("revenue", type="integer"),
        {("daily_sales.revenue type decimal -> integer", "consumers")},
    ),
    "a type widened": (
        _same,
        _column("orders", type="double"),
        {("daily_sales.orders type integer -> double (widened)", "nothing")},
    ),
    "a decimal widened": (
        _column("revenue", type="decimal(10,2)"),
        _column("revenue", type="decimal(12,3)"),
        {("daily_sales.revenue type decimal(10,2) -> decimal(12,3) (widened)", "nothing")},
    ),
    "a decimal narrowed": (
        _column("revenue", type="decimal(10,2)"),
        _column("revenue", type="decimal(10,3)"),
        {("daily_sales.revenue type decimal(10,2) -> decimal(10,3)", "consumers")},
    ),
    "a column made nullable": (
        _column("orders", nullable=False),
        _column("orders", nullable=True),
        {("daily_sales.orders made nullable", "consumers")},
    ),
    "a not_null added": (
        _same,
        _column("orders", nullable=False),
        {("daily_sales.orders made not nullable", "producer")},
    ),
    "a column no longer unique": (
        _same,
        _column("day", unique=False),
        {("daily_sales.day made not unique", "consumers")},
    ),
    "a range widened": (
        _same,
        _rule({"type": "range", "column": "revenue", "min": -100}, "range"),
        {("daily_sales: range rule on revenue loosened", "consumers")},
    ),
    "a range narrowed": (
        _same,
        _rule({"type": "range", "column": "revenue", "min": 0, "max": 10000}, "range"),
        {("daily_sales: range rule on revenue tightened", "producer")},
    ),
    "accepted values widened": (
        _rule(VALUES),
        _rule({**VALUES, "values": [1, 2, 3, 4]}, "accepted_values"),
        {("daily_sales: accepted_values rule on orders loosened", "consumers")},
    ),
    "accepted values narrowed": (
        _rule(VALUES),
        _rule({**VALUES, "values": [1, 2]}, "accepted_values"),
        {("daily_sales: accepted_values rule on orders tightened", "producer")},
    ),
    "a rule added": (_same, _rule(VALUES), {("daily_sales: accepted_values rule on orders added", "producer")}),
    "freshness loosened": (
        _same,
        _set(sla={"freshness": {"fail_after": "30h"}}),
        {("freshness SLA loosened: fail after 30h (was 26h)", "consumers")},
    ),
    "freshness tightened": (
        _same,
        _set(sla={"freshness": {"fail_after": "12h"}}),
        {("freshness SLA tightened: fail after 12h (was 26h)", "producer")},
    ),
    "a column made personal": (
        _same,
        _column("orders", classification="personal", masking="null"),
        {("daily_sales.orders classified personal (was internal)", "consumers")},
    ),
    "a port made restricted": (
        _same,
        _daily(lambda port: port.update(access="restricted")),
        {("daily_sales made restricted", "consumers")},
    ),
    "a port removed": (_same, lambda data: data["output_ports"].pop(0), {("port customers removed", "consumers")}),
    "a nullable column added": (
        _same,
        _daily(
            lambda port: port["columns"].append(
                {"name": "refunds", "type": "integer", "description": "Refunded orders of the day."}
            )
        ),
        {("daily_sales.refunds added", "nothing")},
    ),
    "a description changed": (_same, _column("orders", description="Orders paid that day."), set()),
}


@pytest.mark.parametrize("case", list(CHANGES))
def test_each_change_is_judged_from_both_sides(tmp_path: Path, case: str) -> None:
    before, after, expected = CHANGES[case]
    published_data, current_data = product_yaml(), product_yaml()
    before(published_data)
    before(current_data)
    after(current_data)
    published = json.loads(contract_document(_product(tmp_path, published_data)))
    found = {(c.what, c.breaks) for c in changes(published, _product(tmp_path, current_data))}
    assert found == expected


def _breaking(tmp_path: Path, published: dict, today: date = date(2026, 11, 29)) -> list:
    domain = load_domain(tmp_path / "domains" / "shop")
    return [
        v
        for v in govern(domain, mesh_context(tmp_path / "domains", lambda _: published, today))
        if v.policy == "breaking_changes_need_major"
    ]


def test_only_changes_that_break_consumers_need_a_new_major(tmp_path: Path) -> None:
    write_consumer_domain(tmp_path)
    published = json.loads(contract_document(_product(tmp_path, product_yaml())))
    tighter = product_yaml()
    _column("orders", nullable=False)(tighter)  # the producer's own risk: its checks will tell
    _daily(
        lambda port: port["columns"].append(
            {"name": "refunds", "type": "integer", "description": "Refunded orders of the day."}
        )
    )(tighter)
    write_domain(tmp_path, tighter)
    assert _breaking(tmp_path, published) == []
    narrowed = product_yaml()
    _column("revenue", type="integer")(narrowed)
    write_domain(tmp_path, narrowed)
    (found,) = _breaking(tmp_path, published)
    assert (found.file, found.field, found.message) == (
        "domains/shop/products/sales/product.yaml",
        "output_ports[1].columns[2].type",
        "daily_sales.revenue type decimal -> integer (published as 1.0.0); it would break ledger.vat "
        "(its descriptor reads it; no run recorded in the window)",
    )
    unread = product_yaml()  # ledger.vat reads day and revenue of daily_sales, never orders
    _column("orders", type="string")(unread)
    write_domain(tmp_path, unread)
    assert _breaking(tmp_path, published) == []


# --- mesh diff, against what the lake keeps ----------------------------------------------------


def test_mesh_diff_shows_each_change_against_the_published_contract(
    tmp_path: Path, settings: Settings, instance
) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module: {module_name: domains.shop.definitions, location_name: shop}\n"
    )
    write_domain(tmp_path)
    before = json.loads(CliRunner().invoke(main, ["diff", "shop.sales", "--json", "-w", str(workspace)]).output)
    assert before == [
        {
            "product": "shop.sales",
            "port": None,
            "breaks": "-",
            "field": "",
            "change": "never published: nothing to compare with",
        }
    ]
    assert materialize(build_domain(tmp_path / "domains" / "shop", settings), instance).success
    assert json.loads(CliRunner().invoke(main, ["diff", "--json", "-w", str(workspace)]).output) == []

    changed = product_yaml()
    _column("revenue", type="integer")(changed)
    _column("orders", nullable=False)(changed)
    _daily(
        lambda port: port["columns"].append(
            {"name": "refunds", "type": "integer", "description": "Refunded orders of the day."}
        )
    )(changed)
    write_domain(tmp_path, changed)

    def diff() -> set[tuple[str, str]]:
        found = CliRunner().invoke(main, ["diff", "shop.sales.daily_sales", "--json", "-w", str(workspace)])
        return {(r["breaks"], r["change"]) for r in json.loads(found.output)}

    since = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    assert diff() == {  # nobody reads revenue: judged by use, narrowing it breaks nobody
        (
            "nothing",
            "daily_sales.revenue type decimal -> integer (compatible: no declared consumer reads "
            f"daily_sales.revenue, and nobody read it since {since})",
        ),
        ("producer", "daily_sales.orders made not nullable"),
        ("nothing", "daily_sales.refunds added"),
    }
    reader = Warehouse(settings.warehouse_root, login="rita.analyst")
    reader.read("shop.sales.daily_sales", columns=["day", "revenue"], purpose="Revenue trend").fetchall()
    reader.read("shop.sales.daily_sales", columns=["revenue"]).fetchall()
    assert (
        "consumers",
        "daily_sales.revenue type decimal -> integer; it would break person rita.analyst (2 reads, "
        f"last {datetime.now(UTC).date().isoformat()})",
    ) in diff()
    text = CliRunner().invoke(main, ["diff", "-w", str(workspace)]).output.splitlines()
    assert text[0].split() == ["product", "breaks", "change", "field"]
    assert any(line.split()[:2] == ["shop.sales", "consumers"] and "revenue" in line for line in text)
    assert CliRunner().invoke(main, ["diff", "shop.returns", "-w", str(workspace)]).exit_code == 1


# --- a new major beside the previous one -------------------------------------------------------


def test_a_new_major_publishes_beside_the_previous_one_for_its_pinned_consumers(
    tmp_path: Path, settings: Settings, instance
) -> None:
    shop = build_domain(write_major_two(tmp_path), settings)
    pinned = consumer_product_yaml("shop.sales.daily_sales@1")
    ledger = build_domain(write_consumer_domain(tmp_path, pinned), settings)
    assert dg.AssetKey(["shop", "sales", "daily_sales__v1"]) in {s.key for s in shop.resolve_all_asset_specs()}
    (vat,) = [s for s in ledger.resolve_all_asset_specs() if s.key.path[-1] == "vat_by_day"]
    assert [d.asset_key for d in vat.deps] == [dg.AssetKey(["shop", "sales", "daily_sales__v1"])]

    assert materialize(shop, instance).success
    warehouse = Warehouse(settings.warehouse_root)
    publication = warehouse.current("shop.sales.daily_sales")
    assert publication == warehouse.current("shop.sales.daily_sales__v1")  # one commit, both majors
    assert publication.version == "2.0.0"
    v1 = dict(warehouse.read("shop.sales.daily_sales__v1").select("day, revenue").fetchall())
    v2 = dict(warehouse.read("shop.sales.daily_sales").select("day, revenue_cents").fetchall())
    assert {day: int(revenue * 100) for day, revenue in v1.items()} == v2

    result = materialize(ledger, instance)
    assert result.success  # the pinned consumer reads major 1 as it always did
    assert dict(warehouse.read("ledger.vat.vat_by_day").select("day, revenue").fetchall()) == v1
    (policies,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "policies"]
    assert not policies.passed and policies.severity == dg.AssetCheckSeverity.WARN
    assert (
        "shop.sales.daily_sales@1 is major 1 of shop.sales, deprecated since 2.0.0; read "
        "shop.sales.daily_sales@2 before 2027-03-31"
    ) in str(policies.metadata["violations"].value)


def test_mesh_check_warns_pinned_consumers_and_refuses_them_past_the_sunset(tmp_path: Path) -> None:
    write_major_two(tmp_path)
    ledger = write_consumer_domain(tmp_path, consumer_product_yaml("shop.sales.daily_sales@1"))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n"
            for d in ("shop", "ledger")
        )
    )
    report = json.loads(CliRunner().invoke(main, ["check", "--json", "-w", str(workspace)]).output)
    assert [(v["severity"], v["policy"], v["file"], v["field"]) for v in report["violations"]] == [
        ("warn", "deprecated_inputs", "domains/ledger/products/vat/product.yaml", "inputs[0].address")
    ]
    assert report["errors"] == 0

    write_major_two(tmp_path, sunset="2026-01-31")  # the sunset has passed
    late = govern(load_domain(ledger), mesh_context(tmp_path / "domains"))
    assert [(v.severity, v.message) for v in late if v.policy == "no_sunset_passed"] == [
        (
            "error",
            "shop.sales.daily_sales@1 is major 1 of shop.sales, deprecated since 2.0.0, and its sunset "
            "2026-01-31 has passed: read shop.sales.daily_sales@2",
        )
    ]
    with pytest.raises(PlatformError, match="no_sunset_passed"):
        build_domain(ledger, Settings(warehouse_root=tmp_path / "warehouse"))
    with pytest.raises(PlatformError, match=r"previous.sunset: \[no_sunset_passed\] the previous major \(1.4.0\)"):
        build_domain(tmp_path / "domains" / "shop", Settings(warehouse_root=tmp_path / "warehouse"))


def test_a_pinned_major_the_producer_does_not_publish_is_an_address_error(tmp_path: Path) -> None:
    write_major_two(tmp_path)
    with pytest.raises(PlatformError) as raised:
        load_domain(write_consumer_domain(tmp_path, consumer_product_yaml("shop.sales.daily_sales@3")))
    assert "shop.sales publishes major 2 (current) and 1 (until 2027-03-31), not major 3" in str(raised.value)
