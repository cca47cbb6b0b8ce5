"""Who reads what: a restricted port only by the consumers it grants, personal data masked for
consumers without a grant for it, and no way around either from a domain's SQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.names import literal
from platform_core.errors import PlatformError
from platform_core.execution import masking_key
from platform_core.execution.masking_key import KeyHandover
from platform_core.governance.access import KEY_TABLE
from platform_core.settings import MASKING_KEY_VARIABLE, Settings
from platform_core.storage.sandbox import close_external_access
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import consumer_product_yaml, product_yaml, run_steps, write_consumer_domain, write_domain

KEY = "a-test-key-that-is-not-secret"  # conftest sets it for every test
LEDGER = "domains/ledger/products/vat/product.yaml"
REFUSED = (
    f"{LEDGER}: inputs[0].address: [access] ledger.vat reads shop.sales.daily_sales, a restricted port, "
    "without a grant (fix: ask team shop-data (shop@example.com) to add {consumer: ledger.vat, purpose: ...} "
    "to the grants of shop.sales.daily_sales)"
)


def _restricted(grants: list[dict] | None = None) -> dict:
    shop = product_yaml()
    shop["output_ports"][1].update(access="restricted", grants=grants or [])
    return shop


def _restricted_reader(ledger: dict | None = None) -> dict:
    """ledger.vat, whose port carries what it reads of a restricted port: restricted too."""
    ledger = ledger or consumer_product_yaml()
    ledger["output_ports"][0]["access"] = "restricted"
    return ledger


def test_a_consumer_without_a_grant_is_refused_when_its_location_loads(tmp_path: Path, settings: Settings) -> None:
    write_domain(tmp_path, _restricted([{"consumer": "other.product", "purpose": "Someone else's reporting."}]))
    with pytest.raises(PlatformError) as raised:
        build_domain(write_consumer_domain(tmp_path, _restricted_reader()), settings)
    assert [str(p) for p in raised.value.problems] == [REFUSED]

    write_domain(tmp_path, _restricted([{"consumer": "ledger.vat", "purpose": "VAT due on the paid revenue"}]))
    assert build_domain(tmp_path / "domains" / "ledger", settings).assets  # granted: it loads


def _publish(tmp_path: Path, product) -> Warehouse:
    warehouse = Warehouse(tmp_path / "warehouse")
    outcome = run_steps(warehouse, product, masking_key=KEY)
    assert not outcome.failed and outcome.publication is not None
    return warehouse


# Each way a consumer's SQL might reach the restricted port without its input: each is refused
# when the descriptor loads, before anything runs.
AROUND = {
    "by address": (
        "sql",
        "SELECT day, revenue, revenue AS vat FROM lake.shop.sales__daily_sales",
        "reads lake.shop.sales__daily_sales by schema",
    ),
    "by table function": ("sql", "SELECT * FROM read_parquet('{file}')", "calls read_parquet"),
    "by file path": ("sql", "SELECT * FROM '{file}'", "as a table: tables and CTEs are named like identifiers"),
    "through a rule": (
        "rule",
        "(SELECT count(*) FROM lake.shop.sales__daily_sales) > 0",
        "reads a table (a subquery); an expression may use only the columns of the row it checks",
    ),
}


@pytest.mark.parametrize("way", sorted(AROUND))
def test_a_restricted_port_cannot_be_read_around_the_grant(tmp_path: Path, way: str) -> None:
    shop = load_domain(write_domain(tmp_path, _restricted())).products[0]
    _publish(tmp_path, shop)
    (file,) = sorted((tmp_path / "warehouse" / "lake" / "data" / "shop").rglob("*daily_sales*/*.parquet"))
    where, text, message = AROUND[way]
    ledger = consumer_product_yaml()
    ledger["inputs"] = []  # nothing declared: the SQL tries to reach the port on its own
    ledger["output_ports"][0]["depends_on"] = []
    ledger["output_ports"][0]["columns"][1].pop("source")
    domain_dir = write_consumer_domain(tmp_path, ledger)
    if where == "sql":
        (domain_dir / "products" / "vat" / "sql" / "vat_by_day.sql").write_text(text.format(file=file))
    else:
        ledger["output_ports"][0]["quality"] = [{"type": "expression", "name": "peek", "expression": text}]
        write_consumer_domain(tmp_path, ledger)
        (domain_dir / "products" / "vat" / "sql" / "vat_by_day.sql").write_text(
            "SELECT DATE '2026-01-02' AS day, 1.0 AS revenue, 0.2 AS vat"
        )
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    assert message in str(raised.value), str(raised.value)


def test_a_relationships_rule_reads_another_domains_port_under_the_same_grant(
    tmp_path: Path, settings: Settings
) -> None:
    """A rule's parent is an input like any other: declared, and granted when restricted."""
    ledger = consumer_product_yaml()
    ledger["output_ports"][0]["quality"] = [
        {"type": "relationships", "column": "day", "to": "daily_sales", "field": "day"}
    ]
    write_domain(tmp_path, _restricted())
    with pytest.raises(PlatformError) as raised:
        build_domain(write_consumer_domain(tmp_path, _restricted_reader(ledger)), settings)
    assert [str(p) for p in raised.value.problems] == [REFUSED]


def test_past_the_loader_the_run_still_reads_nothing_it_is_not_granted(tmp_path: Path, monkeypatch) -> None:
    """Should a descriptor change after it loaded, or a check be missed, the run itself refuses:
    it copies in only granted ports, and the database is closed to other domains' files."""
    (shop,) = load_domain(
        write_domain(tmp_path, _restricted([{"consumer": "ledger.vat", "purpose": "VAT due on the paid revenue"}]))
    ).products
    warehouse = _publish(tmp_path, shop)
    (vat,) = load_domain(write_consumer_domain(tmp_path)).products  # granted when it loaded
    write_domain(tmp_path, _restricted())  # then the grant is withdrawn
    outcome = run_steps(warehouse, vat, {"vat_by_day"})
    (failed,) = outcome.failed
    assert "shop.sales.daily_sales is restricted, and grants ledger.vat no access" in failed.error

    (vat.directory / "sql" / "vat_by_day.sql").write_text(
        "SELECT day, revenue, revenue AS vat FROM lake.shop.sales__daily_sales"
    )
    monkeypatch.setattr("platform_core.execution.steps.undeclared_reads_problem", lambda *_: None)
    vat = vat.model_copy(
        update={"inputs": (), "output_ports": (vat.output_ports[0].model_copy(update={"depends_on": ()}),)}
    )
    outcome = run_steps(warehouse, vat, {"vat_by_day"})
    (failed,) = outcome.failed
    assert "file system operations are disabled" in failed.error, failed.error
    assert warehouse.publications("ledger.vat") == []


# --- personal data, masked ---------------------------------------------------------------------

CUSTOMERS_SQL = "SELECT customer, order_count FROM customers"


def _customer_reader(tmp_path: Path, masking: str, personal_grant: bool) -> tuple[Path, Path]:
    """shop.sales.customers with `customer` personal (masked as `masking`), and ledger.vat
    reading it, granted personal data or not."""
    shop = product_yaml()
    customers = shop["output_ports"][0]
    customers["columns"][0].update(classification="personal", masking=masking)
    if personal_grant:
        customers["grants"] = [{"consumer": "ledger.vat", "purpose": "Customer statements", "personal": True}]
    ledger = consumer_product_yaml("shop.sales.customers")
    ledger["inputs"][0].update(name="customers", purpose="Customer statements")
    ledger["output_ports"][0].update(
        name="statements",
        depends_on=["customers"],
        quality=[],
        description="Orders of each customer, for statements.",
        columns=[
            {  # personal data carried on: personal here too (classification_follows_data)
                "name": "customer",
                "type": "string",
                "description": "The customer, as shop publishes it.",
                "classification": "personal",
                "masking": "hash",
            },
            {"name": "order_count", "type": "integer", "description": "Orders the customer placed."},
        ],
    )
    consumer = write_consumer_domain(tmp_path, ledger)
    (consumer / "products" / "vat" / "sql" / "statements.sql").write_text(CUSTOMERS_SQL)
    ledger["output_ports"][0]["sql"] = "sql/statements.sql"
    write_consumer_domain(tmp_path, ledger)
    return write_domain(tmp_path, shop), consumer


def _keyed(value: str) -> str:
    return hashlib.sha256(f"{KEY}:{value}".encode()).hexdigest()


@pytest.mark.parametrize("masking, personal_grant", [("hash", False), ("null", False), ("hash", True)])
def test_personal_columns_reach_a_consumer_masked_unless_it_is_granted_them(
    tmp_path: Path, settings: Settings, instance, masking: str, personal_grant: bool
) -> None:
    shop, ledger = _customer_reader(tmp_path, masking, personal_grant)
    assert materialize(build_domain(shop, settings), instance).success
    assert materialize(build_domain(ledger, settings), instance).success
    warehouse = Warehouse(settings.warehouse_root)
    names = {"alice": 2, "bob": 1, "carol": 1}
    # the producer's own port holds the names in clear, in the lake alone: its compute database keeps no copy
    assert dict(warehouse.read("shop.sales.customers").fetchall()) == names
    with duckdb.connect(str(warehouse.database("shop")), read_only=True) as con:
        assert con.sql("SELECT table_name FROM duckdb_tables() WHERE table_name = 'customers'").fetchall() == []
    read = dict(warehouse.read("ledger.vat.statements").fetchall())
    if personal_grant:
        assert read == names
    elif masking == "hash":  # a keyed hash: the same name always gives the same value, so joins hold
        assert read == {_keyed(name): count for name, count in names.items()}
        assert not set(read) & set(names)
    else:
        assert list(read) == [None] and sorted(
            warehouse.read("ledger.vat.statements").select("order_count").fetchall()
        ) == [(1,), (1,), (2,)]


def test_the_key_hashes_alike_across_runs_and_ports_so_joins_still_work(
    tmp_path: Path, settings: Settings, instance
) -> None:
    shop, ledger = _customer_reader(tmp_path, "hash", False)
    assert materialize(build_domain(shop, settings), instance).success
    assert materialize(build_domain(ledger, settings), instance).success
    first = sorted(Warehouse(settings.warehouse_root).read("ledger.vat.statements").fetchall())
    assert materialize(build_domain(shop, settings), instance).success
    assert materialize(build_domain(ledger, settings), instance).success
    assert sorted(Warehouse(settings.warehouse_root).read("ledger.vat.statements").fetchall()) == first


def test_without_a_key_personal_data_is_not_published_at_all(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    monkeypatch.delenv(MASKING_KEY_VARIABLE)
    shop, _ = _customer_reader(tmp_path, "hash", False)
    result = materialize(
        build_domain(shop, Settings(warehouse_root=settings.warehouse_root, masking_key_file=tmp_path / "no.key")),
        instance,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "no masking key" in str(failure.event_specific_data.error)
    assert Warehouse(settings.warehouse_root).publications("shop.sales") == []


def test_the_key_never_reaches_domain_sql(tmp_path: Path, monkeypatch) -> None:
    """A step that tries to read the key (to hash guesses of names) finds no such table, even past
    the loader's check: the key is in the database only while the commit runs."""
    shop_dir, _ = _customer_reader(tmp_path, "hash", False)
    (shop,) = load_domain(shop_dir).products
    (shop_dir / "products" / "sales" / "sql" / "daily_sales.sql").write_text(
        "SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue "
        "FROM orders WHERE (SELECT key FROM __mesh_masking_key) IS NOT NULL GROUP BY 1"
    )
    with pytest.raises(PlatformError, match="__mesh_masking_key"):
        load_domain(shop_dir)
    monkeypatch.setattr("platform_core.execution.steps.undeclared_reads_problem", lambda *_: None)
    warehouse = Warehouse(tmp_path / "warehouse")
    outcome = run_steps(warehouse, shop, input_snapshot=0, masking_key=KEY)
    (failed,) = outcome.failed
    assert failed.step.name == "daily_sales" and "__mesh_masking_key does not exist" in failed.error, failed.error
    assert KEY not in outcome.summary(outcome.failed)


def test_the_key_is_read_from_a_file_outside_the_repository(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    monkeypatch.delenv(MASKING_KEY_VARIABLE)
    key_file = tmp_path / "config" / "masking.key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n")
    shop, ledger = _customer_reader(tmp_path, "hash", False)
    with_file = Settings(warehouse_root=settings.warehouse_root, masking_key_file=key_file)
    assert materialize(build_domain(shop, with_file), instance).success
    assert materialize(build_domain(ledger, with_file), instance).success
    assert set(dict(Warehouse(settings.warehouse_root).read("ledger.vat.statements").fetchall())) == {
        _keyed("alice"),
        _keyed("bob"),
        _keyed("carol"),
    }


@pytest.mark.parametrize("shared_memory", [True, False])
def test_the_key_reaches_the_database_in_no_statement_and_leaves_no_file(
    tmp_path: Path, monkeypatch, shared_memory: bool
) -> None:
    """With DuckDB's query log switched on (as SQL past the loader's check could do), the key is in
    none of the statements it records, and its file in shared memory lives for the one statement
    that reads it. Where the machine has no shared memory folder, the key is bound instead."""
    if not shared_memory:
        monkeypatch.setattr(masking_key, "SHARED_MEMORY", tmp_path / "no-shared-memory")
    with duckdb.connect() as con, KeyHandover(KEY) as key:
        assert bool(key.directories) == shared_memory
        close_external_access(con, directories=key.directories)
        con.execute("SELECT * FROM enable_logging('QueryLog')")  # the configuration's lock does not stop it
        for folder in key.directories:  # what a step finds there: nothing
            assert con.execute(f"SELECT * FROM glob({literal(folder + '/*')})").fetchall() == []
        key.load(con, KEY_TABLE)
        assert con.execute(f"SELECT key FROM {KEY_TABLE}").fetchall() == [(KEY,)]
        assert key.folder is None or list(key.folder.iterdir()) == []
        logged = [message for (message,) in con.execute("SELECT message FROM duckdb_logs").fetchall()]
        assert any(KEY_TABLE in message for message in logged)  # the statement that made the table
        assert not any(KEY in message for message in logged)
    assert key.folder is None or not key.folder.exists()
