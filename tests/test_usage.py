"""Usage: reads recorded from every surface with the columns they touch, who reads what, the
unused-port policy, consumer expectations run by the producer before publishing, and `mesh usage`.

The serving database's reads (people, groups, metric functions) and the flagship's `mesh usage
hr.overtime` are in tests/test_serving.py, where a real PostgreSQL runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.lineage import columns_read
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.reads import input_columns
from platform_core.governance.evaluate import govern, mesh_context
from platform_core.governance.readers import usage_of
from platform_core.serving.usage import statement_reads
from platform_core.settings import Settings
from platform_core.storage.usage import Read, UsageLog
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import consumer_product_yaml, edit_yaml, run_steps, write_consumer_domain, write_domain

DAILY = "shop.sales.daily_sales"


def _shop_and_ledger(tmp_path: Path, ledger: dict | None = None) -> tuple[Path, Path]:
    return write_domain(tmp_path), write_consumer_domain(tmp_path, ledger)


# --- what a step reads, from its parse tree ------------------------------------------------------


def test_columns_read_are_every_column_a_query_touches_through_ctes_joins_and_filters() -> None:
    schema = {"facts": ["id", "amount", "status", "day", "unused"], "dim": ["id", "name"]}
    sql = """
        WITH paid AS (SELECT * FROM facts WHERE status = 'paid')
        SELECT d.name, sum(p.amount) FROM paid AS p JOIN dim AS d ON d.id = p.id GROUP BY 1 ORDER BY 1
    """
    assert columns_read(sql, schema) == {"facts": {"id", "amount", "status"}, "dim": {"id", "name"}}
    assert columns_read("SELECT count(*) FROM facts", schema) == {"facts": frozenset()}
    # a column its producer has just dropped is still read: that is what breaks
    assert columns_read("SELECT f.gone FROM facts AS f", schema) == {"facts": {"gone"}}
    assert columns_read("SELECT FROM WHERE", schema) is None  # not followed: the caller counts everything


def test_a_consumer_reads_the_columns_its_sql_touches_and_those_it_expects(tmp_path: Path) -> None:
    ledger = consumer_product_yaml()
    ledger["inputs"][0]["expects"] = {"columns": ["orders"]}
    _shop_and_ledger(tmp_path, ledger)
    (vat,) = load_domain(tmp_path / "domains" / "ledger").products
    assert input_columns(vat) == {"daily_sales": {"day", "revenue", "orders"}}


def test_a_statement_to_the_serving_database_reads_the_views_and_columns_it_names() -> None:
    views = {
        "hr.team_oversight": ("hr.overtime.team_oversight", ["team", "period_id", "total_hours"]),
        "hr.fact_overtime": ("hr.overtime.fact_overtime", ["amount", "status", "work_date", "hours"]),
        "sales.fact_overtime": ("sales.orders.fact_overtime", ["x"]),
    }
    body = 'SELECT sum("f"."amount") FROM "hr"."fact_overtime" AS "f" WHERE "f"."status" = \'approved\''
    functions = {"hr.overtime_cost": body}
    assert statement_reads("SELECT team, total_hours FROM team_oversight WHERE period_id > $1", views, functions) == {
        "hr.overtime.team_oversight": {"team", "total_hours", "period_id"}
    }
    assert statement_reads('SELECT * FROM "hr"."overtime_cost"($1, $2)', views, functions) == {
        "hr.overtime.fact_overtime": {"amount", "status"}
    }
    assert statement_reads("SELECT * FROM fact_overtime", views, functions) == {}  # two domains serve that name
    assert statement_reads("SELECT 1", views, functions) == {}


# --- reads recorded from each surface -------------------------------------------------------------


def test_a_consumer_run_records_its_reads_of_other_products_ports(tmp_path: Path, settings: Settings, instance) -> None:
    shop, ledger = _shop_and_ledger(tmp_path)
    assert materialize(build_domain(shop, settings), instance).success
    assert materialize(build_domain(ledger, settings), instance).success
    (read,) = settings.usage.reads()  # the producer read no port; the consumer one
    assert (read.surface, read.reader, read.address, read.columns) == ("run", "ledger.vat", DAILY, ("day", "revenue"))
    assert read.purpose == "VAT due on the paid revenue"
    assert read.rows == settings.warehouse().read(DAILY).count("*").fetchall()[0][0]
    assert read.run_id is not None and read.at.tzinfo is not None


def test_warehouse_read_records_who_read_which_columns_for_what(tmp_path: Path, settings: Settings) -> None:
    (sales,) = load_domain(write_domain(tmp_path)).products
    assert not run_steps(settings.warehouse(), sales).failed
    reader = Warehouse(settings.warehouse_root, login="rita.analyst")
    assert reader.read(DAILY, columns=["day", "revenue"], purpose="Revenue trend").columns == ["day", "revenue"]
    reader.read(DAILY)
    first, second = [r for r in settings.usage.reads() if r.surface == "python"]
    assert (first.reader, first.columns, first.purpose) == ("rita.analyst", ("day", "revenue"), "Revenue trend")
    assert second.columns == ("day", "orders", "revenue")  # the whole port


def test_the_journal_keeps_days_apart_drops_them_past_retention_and_skips_a_line_being_written(tmp_path: Path) -> None:
    log = UsageLog(tmp_path / "usage")
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    old = Read(now - timedelta(days=200), "python", "ann", DAILY, ("day",))
    log.record([old, Read(now, "python", "bob", DAILY, ("revenue",), reads=3)])
    assert sorted(p.name for p in (tmp_path / "usage").iterdir()) == ["day=2026-05-19", "day=2026-12-05"]
    assert [r.reader for r in log.reads(since=now - timedelta(days=30))] == ["bob"]
    (journal,) = (tmp_path / "usage" / "day=2026-12-05").iterdir()
    with open(journal, "a", encoding="utf-8") as half:
        half.write('{"at": "2026-12-05T12:00:00+00:00", "surf')  # a writer mid-line
    assert [r.reads for r in log.reads(since=now - timedelta(days=30))] == [3]
    assert log.prune(timedelta(days=180), now) == 1
    assert log.oldest() == now.date()


# --- who reads what, and the policy on ports nobody reads ------------------------------------------


def test_usage_counts_declared_consumers_runs_and_people_by_port_and_column(tmp_path: Path) -> None:
    _shop_and_ledger(tmp_path)
    log = UsageLog(tmp_path / "usage")
    now = datetime.now(UTC)
    log.record(
        [
            Read(now - timedelta(days=2), "serving", "paula", DAILY, ("day", "orders"), groups=("finance",), reads=4),
            Read(now - timedelta(days=1), "serving", "pete", DAILY, ("orders",), groups=("finance",), reads=1),
            Read(now - timedelta(days=1), "python", "otto", DAILY, ("day",)),
            Read(now - timedelta(days=60), "python", "old", DAILY, ("revenue",)),  # outside the window
        ]
    )
    usage = usage_of(MeshIndex.at(tmp_path / "domains"), log, now - timedelta(days=30), "shop.sales")
    readers = {r.name: r for r in usage.readers(DAILY)}
    assert set(readers) == {"ledger.vat", "group finance", "person otto"}
    ledger, finance = readers["ledger.vat"], readers["group finance"]
    assert (ledger.declared, ledger.columns, ledger.purpose) == (
        True,
        {"day", "revenue"},
        "VAT due on the paid revenue",
    )
    assert (finance.reads, finance.people, finance.columns) == (5, {"paula", "pete"}, {"day", "orders"})
    assert finance.purpose == "revenue reporting"  # the producer's consumer entry of that name
    assert [r.name for r in usage.readers(DAILY, "orders")] == ["group finance"]
    assert usage.readers("shop.sales.customers") == ()


def _unused(tmp_path: Path, log: UsageLog, warehouse: Warehouse) -> list[str]:
    domain = load_domain(tmp_path / "domains" / "shop")
    context = mesh_context(MeshIndex.at(tmp_path / "domains"), warehouse=warehouse)
    return sorted(v.message for v in govern(domain, context) if v.policy == "unused_ports")


def test_a_port_or_column_nobody_reads_for_the_window_is_flagged(tmp_path: Path, settings: Settings) -> None:
    write_domain(tmp_path)
    (sales,) = load_domain(tmp_path / "domains" / "shop").products
    warehouse = settings.warehouse()
    assert not run_steps(warehouse, sales).failed
    log = warehouse.usage
    assert _unused(tmp_path, log, warehouse) == []  # no journal long enough yet: nothing is judged
    log.record([Read(datetime.now(UTC) - timedelta(days=120), "python", "ann", "other.thing.port", ())])
    # the lake's history reaches back only to the first publication; the port is in it
    assert _unused(tmp_path, log, warehouse) == [
        "customers: no reader in the last 90 days",
        "daily_sales: no reader in the last 90 days",
    ]
    log.record([Read(datetime.now(UTC), "python", "ann", DAILY, ("day", "revenue"))])
    assert _unused(tmp_path, log, warehouse) == [
        "customers: no reader in the last 90 days",
        "daily_sales: nobody read orders in the last 90 days",
    ]


# --- consumer-driven contracts -----------------------------------------------------------------


def _expecting(tmp_path: Path, expects: dict) -> None:
    edit_yaml(
        tmp_path / "domains" / "ledger" / "products" / "vat" / "product.yaml",
        lambda data: data["inputs"][0].update(expects=expects),
    )


def test_a_consumer_expectation_stops_the_producers_publication_and_names_the_consumer(
    tmp_path: Path, settings: Settings
) -> None:
    _shop_and_ledger(tmp_path)
    warehouse = settings.warehouse()
    holds = {
        "columns": ["day", {"name": "revenue", "type": "decimal"}],
        "quality": [{"type": "range", "column": "revenue", "min": 0}, {"type": "not_null", "column": "day"}],
        "freshness": "30h",
    }
    _expecting(tmp_path, holds)
    (sales,) = load_domain(tmp_path / "domains" / "shop").products
    (daily,) = [p for p in sales.output_ports if p.name == "daily_sales"]
    assert [e.consumer for e in daily.expected] == ["ledger.vat"]
    assert [r.check_name for r in daily.rules][-2:] == [
        "expected_by_ledger__vat__range_revenue",
        "expected_by_ledger__vat__not_null_day",
    ]
    outcome = run_steps(warehouse, sales)
    assert not outcome.failed and outcome.publication is not None  # the positive control: published
    (step,) = [s for s in outcome.steps if s.step.name == "daily_sales"]
    assert {r.check_name: r.passed for r in step.results if r.check_name.startswith("expected_by")} == {
        "expected_by_ledger__vat__range_revenue": True,
        "expected_by_ledger__vat__not_null_day": True,
        "expected_by_ledger__vat": True,
    }
    published = warehouse.current(DAILY)

    _expecting(
        tmp_path,
        {
            "columns": ["day", "refunds", {"name": "orders", "type": "string"}],
            "quality": [{"type": "range", "column": "revenue", "max": 1}],
            "freshness": "12h",
        },
    )
    (sales,) = load_domain(tmp_path / "domains" / "shop").products
    outcome = run_steps(warehouse, sales)
    assert outcome.publication is None and warehouse.current(DAILY) == published  # consumers keep the last version
    (step,) = outcome.failed
    (promise,) = [r for r in step.results if r.check_name == "expected_by_ledger__vat"]
    assert promise.observed["problems"] == [
        "no column refunds",
        "orders is BIGINT, expected VARCHAR",
        "the freshness SLA fails after 26h, expected at most 12h",
    ]
    summary = outcome.summary(outcome.failed)
    assert "expected_by_ledger__vat__range_revenue" in summary
    assert "not published, ledger.vat expects otherwise" in summary and "ask team ledger-data" in summary


def test_an_expectation_is_a_check_of_the_producers_asset(tmp_path: Path, settings: Settings, instance) -> None:
    shop, _ = _shop_and_ledger(tmp_path)
    _expecting(tmp_path, {"quality": [{"type": "range", "column": "revenue", "max": 1}]})
    defs = build_domain(shop, settings)
    key = dg.AssetKey(["shop", "sales", "daily_sales"])
    (asset,) = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and key in a.keys]
    checks = {check.name for check in asset.check_keys if check.asset_key == key}
    assert {"expected_by_ledger__vat", "expected_by_ledger__vat__range_revenue"} <= checks
    result = materialize(defs, instance)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert {e.check_name for e in failed} == {"expected_by_ledger__vat__range_revenue"}
    assert Warehouse(settings.warehouse_root).current(DAILY) is None


def test_a_consumers_relationships_rule_is_not_an_expectation(tmp_path: Path) -> None:
    _shop_and_ledger(tmp_path)
    _expecting(tmp_path, {"quality": [{"type": "relationships", "column": "day", "to": "x", "field": "day"}]})
    try:
        load_domain(tmp_path / "domains" / "ledger")
    except Exception as error:  # noqa: BLE001 - the message is what is asserted
        assert "inputs[0].expects.quality[0]" in str(error)
    else:
        raise AssertionError("a relationships expectation loaded")


# --- mesh usage ------------------------------------------------------------------------------------


def test_mesh_usage_shows_readers_purposes_columns_and_unread_columns(tmp_path: Path, settings: Settings) -> None:
    _shop_and_ledger(tmp_path)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - python_module: {module_name: domains.shop.definitions, location_name: shop}\n"
        "  - python_module: {module_name: domains.ledger.definitions, location_name: ledger}\n"
    )
    (sales,) = load_domain(tmp_path / "domains" / "shop").products
    warehouse = settings.warehouse()
    assert not run_steps(warehouse, sales).failed
    (vat,) = load_domain(tmp_path / "domains" / "ledger").products
    assert not run_steps(warehouse, vat, usage=warehouse.usage).failed
    rows = json.loads(CliRunner().invoke(main, ["usage", DAILY, "--json", "-w", str(workspace)]).output)
    (row,) = rows
    assert (row["reader"], row["kind"], row["purpose"], row["reads"]) == (
        "ledger.vat",
        "product (declared)",
        "VAT due on the paid revenue",
        1,
    )
    assert (row["columns"], row["unread columns"]) == (["day", "revenue"], ["orders"])
    assert row["reads by day"] == [{"day": datetime.now(UTC).date().isoformat(), "reads": 1}]
    text = CliRunner().invoke(main, ["usage", "shop", "-w", str(workspace)]).output
    assert "shop.sales.customers" in text and "nobody" in text
    assert f"{DAILY}: nobody read orders in the last 30d" in text
    assert CliRunner().invoke(main, ["usage", "shop.nothing", "-w", str(workspace)]).exit_code == 1
    assert CliRunner().invoke(main, ["usage", "--since", "soon", "-w", str(workspace)]).exit_code == 2


def test_the_docs_site_shows_who_uses_each_port_and_column(tmp_path: Path) -> None:
    from platform_core.catalog.mesh import load_mesh
    from platform_core.catalog.site import build_site
    from platform_core.governance.readers import recent_usage

    _shop_and_ledger(tmp_path)
    index = MeshIndex.at(tmp_path / "domains")
    log = UsageLog(tmp_path / "usage")
    log.record(
        [
            Read(datetime.now(UTC), "serving", "paula", DAILY, ("day", "orders"), groups=("finance",), reads=2),
            Read(datetime.now(UTC), "python", "otto.lone", DAILY, ("day",)),
        ]
    )
    build_site(load_mesh(index), tmp_path / "site", usage=recent_usage(index, log))
    page = (tmp_path / "site" / "products" / "shop.sales.html").read_text(encoding="utf-8")
    used = page[page.index("Who uses <code>daily_sales</code>") : page.index("Data dictionary of <code>daily_sales")]
    assert 'group finance <span class="muted">(1 person)</span>' in used and "revenue reporting" in used
    assert '<a href="ledger.vat.html">ledger.vat</a>' in used and "VAT due on the paid revenue" in used
    assert "Nobody has read <code>customers</code>" in page
    assert "a person in no group" in used and "otto.lone" not in page  # the site names no person
    ledger = consumer_product_yaml()
    ledger["inputs"][0]["expects"] = {"columns": ["day"], "freshness": "30h"}
    write_consumer_domain(tmp_path, ledger)
    build_site(load_mesh(index), tmp_path / "site", usage=recent_usage(index, log))
    page = (tmp_path / "site" / "products" / "shop.sales.html").read_text(encoding="utf-8")
    assert "What ledger.vat relies on: the columns day, data at most 30h old" in page  # among the promises
    dictionary = page[page.index("Data dictionary of <code>daily_sales") :]
    orders = dictionary[
        dictionary.index("<code>orders</code>") : dictionary.index("</tr>", dictionary.index("<code>orders</code>"))
    ]
    assert "<td>group finance</td>" in orders
