"""Descriptor loading: a valid product, and every kind of mistake reported with file and field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from platform_core.descriptors.freshness import DEADLINES, latest_deadline
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import CronFreshness, Port
from platform_core.errors import PlatformError
from tests.factories import product_yaml, write_domain

FILE = "domains/shop/products/sales/product.yaml"


def test_valid_descriptor_loads_into_frozen_specs(tmp_path: Path) -> None:
    domain = load_domain(write_domain(tmp_path))
    (product,) = domain.products
    assert (domain.name, product.name, product.version) == ("shop", "sales", "1.0.0")
    assert [s.name for _, s in product.steps] == ["raw_orders", "orders", "customers", "daily_sales"]
    assert [layer for layer, _ in product.steps] == ["bronze", "silver", "gold", "gold"]
    customers = product.step("customers")
    assert isinstance(customers, Port) and customers.engine == "pandas" and customers.kind == "table"
    assert product.sla.freshness.fail_after == timedelta(hours=26)
    # column flags become rules, declared rules follow
    assert [r.check_name for r in product.step("orders").rules] == [
        "not_null_order_id",
        "unique_order_id",
        "accepted_values_status",
    ]
    with pytest.raises(ValidationError, match="frozen"):
        product.name = "other"  # specs are frozen


def test_cron_freshness_is_a_variant(tmp_path: Path) -> None:
    data = product_yaml()
    data["sla"] = {"freshness": {"cron": "0 7 * * *", "timezone": "Europe/Paris", "lower_bound": "1d"}}
    (product,) = load_domain(write_domain(tmp_path, data)).products
    assert isinstance(product.sla.freshness, CronFreshness)
    assert product.sla.freshness.lower_bound == timedelta(days=1)


def test_a_cron_slas_last_deadline_is_kept_until_the_next_one(tmp_path: Path) -> None:
    """The last deadline of a cron SLA, by Dagster's cron arithmetic, is kept beside the product
    while it stays the last, so that health read often does not import Dagster for it."""
    from dagster._utils.schedules import get_latest_completed_cron_tick

    sla = CronFreshness(cron="0 7 * * *", timezone="Europe/Paris", lower_bound=timedelta(days=1))
    folder = tmp_path / "__pycache__"
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # the day Paris moves to summer time
    expected = get_latest_completed_cron_tick(sla.cron, now, sla.timezone)
    assert latest_deadline(sla, folder, now) == expected == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    kept = json.loads((folder / DEADLINES).read_text())
    (window,) = kept.values()
    assert window == [expected.timestamp(), datetime(2026, 3, 30, 5, 0, tzinfo=UTC).timestamp()]

    # within the window the kept deadline is the answer, read without asking Dagster again
    forged = {key: [window[0] - 60, window[1]] for key in kept}
    (folder / DEADLINES).write_text(json.dumps(forged))
    assert latest_deadline(sla, folder, now).timestamp() == window[0] - 60
    # past the next deadline it is asked again, and kept anew
    later = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert latest_deadline(sla, folder, later) == datetime(2026, 3, 30, 5, 0, tzinfo=UTC)
    # a kept file others could write is not believed
    (folder / DEADLINES).write_text(json.dumps(forged))
    (folder / DEADLINES).chmod(0o666)
    assert latest_deadline(sla, folder, now) == expected


def _set(path: str, value) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        *parents, last = _parse(path)
        target = data
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _parse(path: str) -> list:
    parts: list = []
    for chunk in path.split("."):
        name, *indexes = chunk.replace("]", "").split("[")
        parts.append(name)
        parts.extend(int(i) for i in indexes)
    return parts


def _delete(path: str) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        *parents, last = _parse(path)
        target = data
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def _append_rule(port: int, rule: dict) -> Callable[[dict], None]:
    return lambda data: data["output_ports"][port].setdefault("quality", []).append(rule)


INVALID = {
    "unknown column type": (
        _set("output_ports[1].columns[2].type", "integr"),
        "output_ports[1].columns[2].type: unknown type 'integr': use one of string, integer, double, "
        "decimal, boolean, date, timestamp or decimal(p,s); <type>[] for a list, struct(<name> <type>, ...) for a "
        "record",
    ),
    "unknown key": (_set("output_ports[0].colums", []), "output_ports[0].colums: unknown key 'colums'"),
    "missing required field": (_delete("owner"), "owner: missing required field"),
    "wrong type": (
        _set("output_ports[0].columns[0].nullable", "sometimes"),
        "output_ports[0].columns[0].nullable: Input should be a valid boolean, unable to interpret input, "
        "got 'sometimes'",
    ),
    "bad identifier": (
        _set("output_ports[1].name", "Daily-Sales"),
        "output_ports[1].name: bad identifier 'Daily-Sales': use snake_case (a-z, 0-9, _), starting with a letter",
    ),
    "reserved keyword": (
        _set("output_ports[1].columns[0].name", "select"),
        "output_ports[1].columns[0].name: bad identifier 'select': it is a reserved SQL keyword",
    ),
    "DuckDB's own schema name": (
        _set("name", "main"),
        "name: bad name 'main': DuckDB uses it for its own catalogs and schemas",
    ),
    "a name the lake's table names cannot tell apart": (
        _set("domain", "shop_"),
        "domain: bad name 'shop_': no '__' and no '_' at the end (the lake names a port <product>__<port>)",
    ),
    "missing SQL file": (
        _set("output_ports[1].sql", "sql/nowhere.sql"),
        "output_ports[1].sql: SQL file not found: sql/nowhere.sql",
    ),
    "SQL file escaping the product": (
        _set("output_ports[1].sql", "../../../../etc/passwd"),
        "output_ports[1].sql: path '../../../../etc/passwd' must stay inside the product folder",
    ),
    "duplicate names": (
        _set("output_ports[1].name", "raw_orders"),
        "output_ports[1].name: duplicate name 'raw_orders', already used by layers.bronze[0]",
    ),
    "reference to a table that does not exist": (
        _set("output_ports[1].depends_on", ["ordres"]),
        [
            "output_ports[1].sql: sql/daily_sales.sql: reads orders, not in depends_on (ordres); "
            "list every table the SQL reads there",
            "output_ports[1].depends_on[0]: unknown table 'ordres'; known: customers, daily_sales, orders, "
            "orders_file, raw_orders",
        ],
    ),
    "rule on an unknown column": (
        _append_rule(1, {"type": "not_null", "column": "revenu"}),
        "output_ports[1].quality[1]: unknown column 'revenu'; the step declares day, orders, revenue",
    ),
    "unknown rule type": (
        _append_rule(1, {"type": "not_empty", "column": "day"}),
        "output_ports[1].quality[1]: unknown type 'not_empty': use one of 'not_null', 'unique', "
        "'accepted_values', 'range', 'relationships', 'row_count', 'max_age', 'expression'",
    ),
    "bad duration": (
        _set("sla.freshness.fail_after", "a day"),
        "sla.freshness.fail_after: bad duration 'a day': write it like 30m, 26h, 7d or 1d12h",
    ),
    "relationship to a non-port": (
        _append_rule(1, {"type": "relationships", "column": "day", "to": "orders", "field": "order_id"}),
        "output_ports[1].quality[1].to: relationships must point at an output port or a port input; 'orders' is "
        "neither "
        "(ports: customers, daily_sales)",
    ),
    "raw input read outside bronze": (
        _set("output_ports[1].depends_on", ["orders_file"]),
        [
            "output_ports[1].sql: sql/daily_sales.sql: reads orders, not in depends_on (orders_file); "
            "list every table the SQL reads there",
            "output_ports[1].depends_on[0]: raw input 'orders_file' may only be read by a bronze step",
        ],
    ),
    "dependency cycle across layers": (
        _set("layers.silver[0].depends_on", ["raw_orders", "daily_sales"]),
        [
            "layers.silver[0].depends_on[1]: a silver step cannot read 'daily_sales' from the later gold layer",
            "output_ports[1].depends_on: dependency cycle: orders -> daily_sales -> orders",
        ],
    ),
    "both sql and python": (
        _set("output_ports[1].python", "transforms.py:customers"),
        "output_ports[1]: give exactly one of sql (a .sql file), python (file.py:function) or query "
        "(a metric question)",
    ),
    "python function missing": (
        _set("output_ports[0].python", "transforms.py:customer"),
        "output_ports[0].python: transforms.py defines no function 'customer'",
    ),
    "status outside the lifecycle": (
        _set("status", "live"),
        "status: Input should be 'draft', 'active', 'deprecated' or 'retired', got 'live'",
    ),
    "expression that is not SQL": (
        _append_rule(1, {"type": "expression", "name": "positive", "expression": "revenue >= "}),
        None,
    ),  # DuckDB's parser words the message; the field path is what matters
    "accepted value that is a fraction": (
        _append_rule(1, {"type": "accepted_values", "column": "orders", "values": [1, 1.5]}),
        "output_ports[1].quality[1].values[1]: 1.5 cannot be an accepted value: use text, a whole number, "
        "or true/false",
    ),
    "unquoted yes/no on a text column": (
        _append_rule(0, {"type": "accepted_values", "column": "customer", "values": [True, False]}),
        "output_ports[0].quality[1].values: 'customer' is string, but YAML reads true/false/yes/no/on/off unquoted "
        "as booleans: quote them ('yes')",
    ),
    "range on a date column": (
        _append_rule(1, {"type": "range", "column": "day", "min": 0}),
        "output_ports[1].quality[1].column: range needs a numeric column (integer, double or decimal); 'day' is date",
    ),
    "max_age on a number": (
        _append_rule(1, {"type": "max_age", "column": "revenue", "max_age": "1d"}),
        "output_ports[1].quality[1].column: max_age needs a date or timestamp column; 'revenue' is decimal",
    ),
    "bad cron": (
        _set("schedule.cron", "61 * * * *"),
        "schedule.cron: bad cron expression '61 * * * *': use five fields, e.g. \"0 6 * * *\"",
    ),
    "unknown time zone": (
        _set("schedule.timezone", "Europe/Lyon"),
        "schedule.timezone: unknown time zone 'Europe/Lyon': use an IANA name such as Europe/Paris",
    ),
    "input file missing": (
        _set("inputs[0].path", "data/missing.csv"),
        "inputs[0].path: file not found: data/missing.csv",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_descriptor_reports_file_and_field(tmp_path: Path, case: str) -> None:
    mutate, expected = INVALID[case]
    data = product_yaml()
    mutate(data)
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, data))
    messages = [str(p) for p in raised.value.problems]
    if expected is None:
        assert len(messages) == 1 and messages[0].startswith(
            f"{FILE}: output_ports[1].quality[1].expression: not one SQL expression:"
        ), messages
    else:
        expected = expected if isinstance(expected, list) else [expected]
        assert messages == [f"{FILE}: {e}" for e in expected]
    assert f"{FILE}: " in str(raised.value)


@pytest.mark.parametrize(
    "expression, says",
    [
        ("revenu >= 0", 'Referenced column "revenu" not found'),
        ("day > 5", "Cannot compare values of type DATE and type INTEGER"),
    ],
)
def test_an_expression_must_fit_the_steps_columns(tmp_path: Path, expression: str, says: str) -> None:
    data = product_yaml()
    _append_rule(1, {"type": "expression", "name": "revenue_rule", "expression": expression})(data)
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, data))
    (message,) = [str(p) for p in raised.value.problems]
    assert message.startswith(f"{FILE}: output_ports[1].quality[1].expression: does not fit the step's columns: ")
    assert says in message


def test_sql_names_match_whatever_their_case(tmp_path: Path) -> None:
    sql = (
        "WITH Paid AS (SELECT * FROM ORDERS WHERE status = 'paid') "
        "SELECT ordered_at::DATE AS day, count(*) AS orders, sum(amount) AS revenue FROM paid GROUP BY 1"
    )
    domain = load_domain(write_domain(tmp_path, files={"products/sales/sql/daily_sales.sql": sql}))
    assert domain.products[0].step("daily_sales").depends_on == ("orders",)  # loaded, not refused


@pytest.mark.parametrize(
    "sql, says",
    [
        (
            "SELECT o.ordered_at::DATE AS day, count(*) AS orders, sum(amount) AS revenue "
            "FROM orders o JOIN raw_orders r USING (order_id) GROUP BY 1",
            "reads raw_orders, not in depends_on (orders); list every table the SQL reads there",
        ),
        (
            "WITH paid AS (SELECT * FROM orders WHERE status = 'paid') "
            "SELECT p.ordered_at::DATE AS day, count(*) AS orders, sum(p.amount) AS revenue FROM paid p "
            "WHERE p.customer IN (SELECT customer FROM customers) GROUP BY 1",
            "reads customers, not in depends_on (orders); list every table the SQL reads there",
        ),
        (
            "SELECT ordered_at::DATE AS day, count(*) AS orders, sum(amount) AS revenue "
            'FROM "sales"."orders" GROUP BY 1',
            "reads sales.orders by schema; read tables by their name and list them in depends_on",
        ),
    ],
)
def test_sql_may_read_only_what_its_step_declares(tmp_path: Path, sql: str, says: str) -> None:
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, files={"products/sales/sql/daily_sales.sql": sql}))
    assert [str(p) for p in raised.value.problems] == [f"{FILE}: output_ports[1].sql: sql/daily_sales.sql: {says}"]


def test_a_product_folder_without_its_descriptor_is_reported(tmp_path: Path) -> None:
    domain_dir = write_domain(tmp_path)
    misnamed = domain_dir / "products" / "returns"
    misnamed.mkdir()
    (misnamed / "product.yml").write_text("name: returns\n")
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    assert [str(p) for p in raised.value.problems] == [
        "domains/shop/products/returns: no product.yaml in this product folder (product.yml)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = product_yaml()
    data["status"] = "live"
    data["output_ports"][0]["columns"][0]["type"] = "text"
    data["output_ports"][1]["colour"] = "blue"
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, data))
    fields = sorted(p.field for p in raised.value.problems)
    assert fields == ["output_ports[0].columns[0].type", "output_ports[1].colour", "status"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    domain_dir = write_domain(tmp_path, files={"products/sales/product.yaml": "name: sales\nowner: [unclosed\n"})
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    (problem,) = raised.value.problems
    assert problem.file == FILE and problem.message.startswith("YAML syntax error at line 3, column 1")


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(product_yaml(), sort_keys=False) + "version: 2.0.0\n"
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, files={"products/sales/product.yaml": text}))
    assert "duplicate key 'version'" in str(raised.value)


def test_a_comma_inside_a_one_line_mapping_is_refused_not_cut(tmp_path: Path) -> None:
    text = yaml.safe_dump(product_yaml(), sort_keys=False)
    block = "owner:\n  team: shop-data\n  contact: shop@example.com\n"
    assert block in text
    flow = text.replace(block, "owner: {team: shop-data, name: Shop, web analytics, contact: shop@example.com}\n")
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, files={"products/sales/product.yaml": flow}))
    (problem,) = raised.value.problems
    assert problem.message.startswith(
        "YAML error at line 5, column 38: 'web analytics' has no value: in a one-line "
        "{...} mapping a comma ends the value before it; put that value in quotes"
    )
    # quoted, the comma is text; an explicitly empty value is still the loader's to judge
    quoted = flow.replace("name: Shop, web analytics,", 'name: "Shop, web analytics",')
    (product,) = load_domain(write_domain(tmp_path, files={"products/sales/product.yaml": quoted})).products
    assert product.owner.name == "Shop, web analytics"


def test_product_must_live_in_its_domain_and_folder(tmp_path: Path) -> None:
    data = product_yaml()
    data["domain"], data["name"] = "finance", "revenue"
    with pytest.raises(PlatformError) as raised:
        load_domain(write_domain(tmp_path, data))
    assert [str(p) for p in raised.value.problems] == [
        f"{FILE}: name: product name 'revenue' must match its folder 'sales'",
        f"{FILE}: domain: product declares domain 'finance' but lives in domain 'shop'",
    ]


def test_sql_file_must_be_one_select(tmp_path: Path) -> None:
    domain_dir = write_domain(tmp_path, files={"products/sales/sql/daily_sales.sql": "DROP TABLE orders"})
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    assert [str(p) for p in raised.value.problems] == [
        f"{FILE}: output_ports[1].sql: sql/daily_sales.sql: expected a SELECT statement, found DROP"
    ]


def test_domain_yaml_is_validated(tmp_path: Path) -> None:
    domain_dir = write_domain(
        tmp_path, files={"domain.yaml": "name: shop\ntitle: Shop\ndescription: x\nowner: {team: Shop Data}\n"}
    )
    with pytest.raises(PlatformError) as raised:
        load_domain(domain_dir)
    assert [str(p) for p in raised.value.problems] == [
        "domains/shop/domain.yaml: owner.team: bad team 'Shop Data': a slug such as hr-data (a-z, 0-9, '-')"
    ]
