"""Metrics defined once: every aggregation and metric type, grains and time zones, filters, ratios
with a zero denominator, derived metrics and joins through relationships, answered alike by
DuckDB and PostgreSQL and equal to hand-written SQL; hostile expressions and names refused; the
breaking-change rules; the exports checked by their official validators.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
import yaml
from click.testing import CliRunner
from dbt_semantic_interfaces.parsing.dir_to_model import parse_yaml_files_to_validation_ready_semantic_manifest
from dbt_semantic_interfaces.parsing.objects import YamlConfigFile
from dbt_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator
from sqlglot import exp

from platform_core.catalog.mesh import load_mesh
from platform_core.catalog.metricflow import metricflow_documents
from platform_core.catalog.metrics import MetricsOfMesh, ask, query
from platform_core.catalog.odcs import export_contract, validate_contract
from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.metric_sql import Catalogue, MetricError, Offering, Question, compile_question
from platform_core.descriptors.metrics import DerivedMetric, RatioMetric, SimpleMetric
from platform_core.descriptors.rules import Relationships
from platform_core.descriptors.spec import Column, Port
from platform_core.errors import PlatformError
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env
from tests.factories import copy_of_the_mesh, edit_yaml

HR = PROJECT / "domains" / "hr"
WORKSPACE = PROJECT / "workspace.yaml"

# --- a small shop whose every answer is known by hand -----------------------------------------------


def _column(name: str, kind: str, **more: Any) -> Column:
    return Column(name=name, type=kind, description=f"The {name}.", **more)


EVENTS = Port(
    name="events",
    kind="table",
    classification="internal",
    description="One row per sale or refund.",
    sql="sql/events.sql",
    columns=(
        _column("id", "integer"),
        _column("moment", "timestamp"),
        _column("day", "date"),
        _column("kind", "string"),
        _column("amount", "decimal(10,2)"),
        _column("customer_id", "string"),
        _column("email", "string", classification="personal"),
    ),
    quality=(Relationships(type="relationships", column="customer_id", to="customers", field="customer_id"),),
)
CUSTOMERS = Port(
    name="customers",
    kind="table",
    classification="internal",
    description="One row per customer.",
    sql="sql/customers.sql",
    columns=(_column("customer_id", "string"), _column("region", "string")),
)
ROWS = {
    "events": [
        (1, "2025-01-31 23:30:00", "2025-01-31", "sale", "10.00", "c1", "a@x"),  # 00:30 on 1 February in Paris
        (2, "2025-02-01 10:00:00", "2025-02-01", "sale", "20.50", "c2", "b@x"),
        (3, "2025-02-03 09:00:00", "2025-02-03", "refund", "-5.25", "c1", "a@x"),
        (4, "2025-04-01 00:30:00", "2025-04-01", "sale", "7.00", "c3", "c@x"),  # c3: no customer row
    ],
    "customers": [("c1", "north"), ("c2", "south")],
}
DIMENSIONS = ("kind", "customer_id", "customers.region")


def _simple(name: str, aggregation: str, expression: str | None = None, **more: Any) -> SimpleMetric:
    more.setdefault("time", "day")
    return SimpleMetric(
        name=name,
        label=name.title(),
        description=f"The {name}.",
        port="events",
        aggregation=aggregation,
        expression=expression,
        dimensions=DIMENSIONS,
        **more,
    )


SHOP_METRICS = (
    _simple("revenue", "sum", "amount", filter="kind = 'sale'"),
    _simple("refunds", "sum", "-amount", filter="kind = 'refund'"),
    _simple("events_count", "count"),
    _simple("buyers", "count_distinct", "customer_id", filter="kind = 'sale'"),
    _simple("average_sale", "avg", "amount", filter="kind = 'sale'"),
    _simple("smallest", "min", "amount"),
    _simple("largest", "max", "amount"),
    _simple("nothing", "sum", "amount * 0"),
    _simple("paris_revenue", "sum", "amount", filter="kind = 'sale'", time="moment", timezone="Europe/Paris"),
    _simple("utc_revenue", "sum", "amount", filter="kind = 'sale'", time="moment"),
    RatioMetric(
        name="refund_rate", type="ratio", label="R", description="d", numerator="refunds", denominator="revenue"
    ),
    RatioMetric(
        name="per_nothing", type="ratio", label="Z", description="d", numerator="revenue", denominator="nothing"
    ),
    DerivedMetric(
        name="net",
        type="derived",
        label="N",
        description="d",
        metrics=("revenue", "refunds"),
        expression="revenue - refunds",
    ),
)
SHOP = Offering("shop.sales", {"events": EVENTS, "customers": CUSTOMERS}, {m.name: m for m in SHOP_METRICS})


def _no_other(address: str) -> Offering:
    raise MetricError(f"no product {address}")


def _answer_duckdb(question: Question) -> list[tuple]:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE events (id INTEGER, moment TIMESTAMP, day DATE, kind VARCHAR, amount DECIMAL(10,2), "
            "customer_id VARCHAR, email VARCHAR)"
        )
        con.execute("CREATE TABLE customers (customer_id VARCHAR, region VARCHAR)")
        for table, rows in ROWS.items():
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        sql = compile_question(question, Catalogue(SHOP, _no_other), _table, "duckdb").sql
        return con.execute(sql).fetchall()


def _answer_postgres(url: str, question: Question) -> list[tuple]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS events (id integer, moment timestamp, day date, kind text, "
            "amount numeric(10,2), customer_id text, email text)"
        )
        cursor.execute("CREATE TABLE IF NOT EXISTS customers (customer_id text, region text)")
        cursor.execute("SELECT count(*) FROM events")
        if cursor.fetchone()[0] == 0:
            for table, rows in ROWS.items():
                cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)
        cursor.execute(compile_question(question, Catalogue(SHOP, _no_other), _table, "postgres").sql)
        return cursor.fetchall()


def _table(address: str) -> exp.Expression:
    return exp.to_table(address.rsplit(".", 1)[1])


D = Decimal
CASES = [
    (Question(("revenue",)), [(D("37.50"),)]),
    (
        Question(("revenue",), grain="day"),
        [(date(2025, 1, 31), D("10.00")), (date(2025, 2, 1), D("20.50")), (date(2025, 4, 1), D("7.00"))],
    ),
    (Question(("revenue",), grain="week"), [(date(2025, 1, 27), D("30.50")), (date(2025, 3, 31), D("7.00"))]),
    (
        Question(("revenue",), grain="month"),
        [(date(2025, 1, 1), D("10.00")), (date(2025, 2, 1), D("20.50")), (date(2025, 4, 1), D("7.00"))],
    ),
    (Question(("revenue",), grain="quarter"), [(date(2025, 1, 1), D("30.50")), (date(2025, 4, 1), D("7.00"))]),
    (Question(("revenue",), grain="year"), [(date(2025, 1, 1), D("37.50"))]),
    # a timestamp's day begins in the metric's time zone: 23:30 UTC on 31 January is February in Paris
    (Question(("paris_revenue",), grain="month"), [(date(2025, 2, 1), D("30.50")), (date(2025, 4, 1), D("7.00"))]),
    (
        Question(("utc_revenue",), grain="month"),
        [(date(2025, 1, 1), D("10.00")), (date(2025, 2, 1), D("20.50")), (date(2025, 4, 1), D("7.00"))],
    ),
    (
        Question(("refunds", "events_count", "buyers", "average_sale", "smallest", "largest")),
        [(D("5.25"), 4, 3, D("12.50"), D("-5.25"), D("20.50"))],
    ),
    (Question(("net", "refund_rate", "per_nothing")), [(D("32.25"), D("0.1400"), None)]),  # 0 below: no value
    # a dimension of another port, joined by the relationships rule; c3 has no customer row
    (
        Question(("revenue", "refunds"), by=("region",)),
        [("north", D("10.00"), D("5.25")), ("south", D("20.50"), None), (None, D("7.00"), None)],
    ),
    (Question(("revenue",), by=("kind",), where="region = 'north'"), [("sale", D("10.00"))]),
    (
        Question(("buyers",), grain="month", where="metric_time >= DATE '2025-02-01'"),
        [(date(2025, 2, 1), 1), (date(2025, 4, 1), 1)],
    ),
]


@pytest.mark.parametrize("question, expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_aggregation_grain_and_type_gives_the_figure_known_by_hand(
    question: Question, expected: list[tuple], postgres_url: str
) -> None:
    duck = _answer_duckdb(question)
    assert duck == expected
    assert _answer_postgres(postgres_url, question) == duck  # the same tree, written for PostgreSQL


@pytest.mark.parametrize(
    "question, message",
    [
        (Question(("revenue",), by=("kind; DROP TABLE events",)), "cannot be grouped by 'kind; DROP TABLE events'"),
        (Question(("revenue",), by=("email",)), "cannot be grouped by 'email'"),
        (Question(("revenue",), grain="decade"), "cannot be grouped by decade"),  # type: ignore[arg-type]
        (Question(("revenue",), where="1 = 1; DROP TABLE events"), "not one SQL expression"),
        (Question(("revenue",), where="kind IN (SELECT kind FROM events)"), "reads a table (a subquery)"),
        (Question(("revenue",), where="getenv('HOME') IS NOT NULL"), "uses GETENV"),
        (Question(("revenue",), where="read_csv('/etc/passwd') IS NULL"), "uses READ_CSV"),
        (Question(("revenue",), where="customers.region = 'x'"), "with a table: name columns alone"),
        (Question(("revenue",), where="amount > 0"), "'amount', which is not a dimension"),
        (Question(("revenue",), where="metric_time > DATE '2025-01-01'"), "give a grain too"),
        (Question(('revenue"; DROP TABLE events; --',)), "has no metric"),
        (Question(("revenue", "revenue")), "asked twice"),
    ],
)
def test_hostile_questions_are_refused_before_any_sql_runs(question: Question, message: str) -> None:
    with pytest.raises(MetricError, match=None) as raised:
        compile_question(question, Catalogue(SHOP, _no_other), _table, "duckdb")
    assert message in str(raised.value)


# --- metrics in the descriptor: refused with file and field ------------------------------------------


def _hr_with(tmp_path: Path, change) -> Path:
    domains = copy_of_the_mesh(tmp_path)
    edit_yaml(domains / "hr" / "products" / "overtime" / "product.yaml", change)
    return domains


def _metric(data: dict, name: str) -> dict:
    return next(m for m in data["metrics"] if m["name"] == name)


@pytest.mark.parametrize(
    "change, field, message",
    [
        (lambda d: _metric(d, "overtime_cost").update(port="nowhere"), "metrics[3].port", "no output port 'nowhere'"),
        (
            lambda d: _metric(d, "overtime_cost").update(expression="amount_eur"),
            "metrics[3].expression",
            "names amount_eur, not a column of port fact_overtime",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(expression="amount); DROP TABLE x; --"),
            "metrics[3].expression",
            "not one SQL expression",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(filter="status IN (SELECT 1)"),
            "metrics[3].filter",
            "reads a table (a subquery)",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(expression="status"),
            "metrics[3]",
            "does not fit its ports' columns",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(time="status"),
            "metrics[3].time",
            "is string: the time dimension is a date or timestamp",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(dimensions=["dim_employee.full_name"]),
            "metrics[3].dimensions[0]",
            "dim_employee.full_name is personal",
        ),
        (
            lambda d: _metric(d, "overtime_cost").update(dimensions=["team_oversight.team"]),
            "metrics[3]",
            "no relationships rule to a port 'team_oversight'",
        ),
        (
            lambda d: _metric(d, "cost_per_employee").update(denominator="heads"),
            "metrics[8]",
            "hr.overtime has no metric 'heads'",
        ),
        (
            lambda d: _metric(d, "banked_hours").update(
                metrics=["banked_hours", "paid_hours"], expression="banked_hours - paid_hours"
            ),
            "metrics[10]",
            "metrics refer to each other in a loop",
        ),
        (
            lambda d: _metric(d, "banked_hours").update(expression="approved_hours - unpaid_hours"),
            "metrics[10]",
            "names unpaid_hours, not among its metrics",
        ),
        (lambda d: _metric(d, "overtime_cost").update(name="fact_overtime"), "metrics[3].name", "names a port too"),
        (
            lambda d: d["metrics"].append({**_metric(d, "overtime_cost")}),
            "metrics[11].name",
            "duplicate metric name 'overtime_cost'",
        ),
    ],
)
def test_a_metric_that_cannot_be_answered_is_the_products_error(
    change, field: str, message: str, tmp_path: Path
) -> None:
    domains = _hr_with(tmp_path, change)
    with pytest.raises(PlatformError) as raised:
        load_domain(domains / "hr")
    problems = [(p.field, p.message) for p in raised.value.problems]
    assert any(f == field and message in m for f, m in problems), problems


def test_a_metric_over_personal_data_aggregates_it(tmp_path: Path) -> None:
    def add(data: dict) -> None:
        base = {"label": "x", "description": "x", "port": "dim_employee", "dimensions": ["department"]}
        data["metrics"] += [
            {**base, "name": "people_named", "aggregation": "count_distinct", "expression": "full_name"},
            {**base, "name": "first_name", "aggregation": "min", "expression": "full_name"},
        ]

    with pytest.raises(PlatformError) as raised:
        load_domain(_hr_with(tmp_path, add) / "hr")
    problems = [(p.field, p.message) for p in raised.value.problems]
    assert problems == [
        (
            "metrics[12].aggregation",
            "min of personal column full_name shows one person's value; a metric over "
            "personal data aggregates it (count, count_distinct, sum, avg)",
        )
    ]  # counting distinct names shows no name


def test_another_products_metric_is_read_through_a_declared_input(tmp_path: Path) -> None:
    domains = copy_of_the_mesh(tmp_path)

    def without_the_input(data: dict) -> None:
        data["inputs"] = [i for i in data["inputs"] if i["name"] != "fact_overtime"]
        data["layers"]["silver"][0]["depends_on"] = ["revenue_by_entity_month"]

    edit_yaml(domains / "finance" / "products" / "overtime_cost_ratio" / "product.yaml", without_the_input)
    with pytest.raises(PlatformError) as raised:
        load_domain(domains / "finance")
    assert any(
        p.field == "layers.silver[0].query"
        and "the metrics read hr.overtime.fact_overtime: declare it as an input (kind: port" in p.message
        for p in raised.value.problems
    ), raised.value.problems


# --- the real mesh: the same figure as hand-written SQL, every surface ---------------------------------


def test_hr_metrics_equal_hand_written_sql_on_the_lake(mesh_run) -> None:
    metrics = MetricsOfMesh.of_workspace(WORKSPACE)
    fact = mesh_run.warehouse.read("hr.overtime.fact_overtime")
    employees = mesh_run.warehouse.read("hr.overtime.dim_employee")
    answer = ask(metrics, Question(("overtime_cost",), ("entity_id",), "month"), mesh_run.warehouse)
    assert answer.columns == ("metric_time", "entity_id", "overtime_cost")
    by_hand = fact.query(
        "f",
        "SELECT CAST(date_trunc('month', work_date) AS DATE), entity_id, CAST(sum(amount) AS DECIMAL(38,2)) "
        "FROM f WHERE status = 'approved' GROUP BY ALL ORDER BY 1, 2",
    ).fetchall()
    assert answer.rows == by_hand and len(by_hand) > 10
    asked = Warehouse(mesh_run.warehouse.root, login="metric.asker")
    ask(metrics, Question(("overtime_cost",), ("entity_id",), "month"), asked)
    (read,) = [r for r in asked.usage.reads() if r.reader == "metric.asker"]  # a question reads as Warehouse.read
    assert (read.address, read.columns) == ("hr.overtime.fact_overtime", ("amount", "entity_id", "status", "work_date"))

    joined = ask(metrics, Question(("overtime_hours", "employees_with_overtime"), ("department",)), mesh_run.warehouse)
    con = duckdb.connect()
    con.register("f", fact.df())
    con.register("e", employees.df())
    assert (
        joined.rows
        == con.execute(
            "SELECT e.department, CAST(sum(f.hours) AS DECIMAL(38,2)), count(DISTINCT f.employee_id) FROM f "
            "LEFT JOIN e USING (employee_id) WHERE f.status <> 'rejected' GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )

    ratio = ask(metrics, Question(("cost_per_employee", "paid_share", "banked_hours")), mesh_run.warehouse).rows
    ((cost, paid, banked),) = fact.query(
        "f",
        "SELECT sum(amount) FILTER (status = 'approved') / count(DISTINCT employee_id) FILTER "
        "(status = 'approved' AND amount > 0), sum(hours) FILTER (status = 'approved' AND rate_multiplier > 0) / "
        "sum(hours) FILTER (status = 'approved'), sum(hours) FILTER (status = 'approved' AND rate_multiplier = 0) "
        "FROM f",
    ).fetchall()
    assert ratio == [(round(Decimal(cost), 2), round(Decimal(paid), 4), banked)]


def test_finance_reads_hrs_metric_and_gets_hrs_figure(mesh_run) -> None:
    """Finance's cost ratio asks HR's overtime_cost by address: its overtime cost is HR's figure."""
    metrics = MetricsOfMesh.of_workspace(WORKSPACE)
    hr = ask(metrics, Question(("hr.overtime.overtime_cost",), ("entity_id",), "month"), mesh_run.warehouse).rows
    finance = (
        mesh_run.warehouse.read("finance.overtime_cost_ratio.overtime_cost_to_revenue")
        .query(
            "f",
            "SELECT make_date(period_id // 100, period_id % 100, 1), entity_id, overtime_cost FROM f "
            "WHERE overtime_cost > 0 ORDER BY 1, 2",
        )
        .fetchall()
    )
    assert finance == [row for row in hr if row[2] > 0]


def test_the_cli_and_python_give_the_same_table(mesh_run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MESH_WAREHOUSE", str(mesh_run.warehouse.root))
    frame = query("overtime_cost", by=["entity_id"], grain="month", workspace=WORKSPACE)
    result = CliRunner().invoke(
        main,
        ["metrics", "query", "overtime_cost", "--by", "entity_id", "--grain", "month", "--json", "-w", str(WORKSPACE)],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["columns"] == list(frame.columns) == ["metric_time", "entity_id", "overtime_cost"]
    assert [tuple(row.values()) for row in shown["rows"]] == [
        (t.isoformat(), e, str(v)) for t, e, v in frame.itertuples(index=False)
    ]
    csv = CliRunner().invoke(
        main,
        [
            "metrics",
            "query",
            "hr.overtime.cost_per_employee",
            "--by",
            "department,entity_id",
            "--csv",
            "-w",
            str(WORKSPACE),
        ],
    )
    assert csv.exit_code == 0 and csv.output.splitlines()[0] == "department,entity_id,cost_per_employee"
    at = CliRunner().invoke(main, ["metrics", "query", "overtime_records", "--at", "9.9.9", "-w", str(WORKSPACE)])
    assert at.exit_code == 1 and "never published at version 9.9.9" in at.output
    unknown = CliRunner().invoke(main, ["metrics", "query", "overtime_costs", "-w", str(WORKSPACE)])
    assert unknown.exit_code == 1 and "no metric is named 'overtime_costs'; metrics: " in unknown.output


def test_a_metrics_query_runs_in_a_process_of_its_own(mesh_run, tmp_path: Path) -> None:
    """As a person types it: the installed command, the lake of MESH_WAREHOUSE, a readable table."""
    env = {**subprocess_env(tmp_path), "MESH_WAREHOUSE": str(mesh_run.warehouse.root)}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "mesh"),
            "metrics",
            "query",
            "overtime_cost",
            "--by",
            "entity_id",
            "--grain",
            "year",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["metric_time", "entity_id", "overtime_cost"] and len(lines) > 4


def test_list_and_show_say_what_a_metric_is() -> None:
    listed = CliRunner().invoke(main, ["metrics", "list", "--json", "-w", str(WORKSPACE)])
    rows = {row["address"]: row for row in json.loads(listed.output)}
    assert rows["hr.overtime.overtime_cost"]["definition"] == (
        "the sum of amount of hr.overtime.fact_overtime, over the rows where status = 'approved'"
    )
    assert "department" in rows["hr.overtime.cost_per_employee"]["dimensions"]
    shown = CliRunner().invoke(main, ["metrics", "show", "banked_hours", "--dialect", "postgres", "-w", str(WORKSPACE)])
    assert (
        shown.exit_code == 0
        and "approved_hours - coalesce(paid_hours, 0), from approved_hours, paid_hours" in shown.output
    )
    assert '"hr__overtime__fact_overtime"' in shown.output


# --- the contract: a metric's definition is a promise ----------------------------------------------------


def test_changing_a_metric_consumers_use_needs_a_new_major(mesh_run, tmp_path: Path) -> None:
    settings = Settings(warehouse_root=mesh_run.warehouse.root)

    def stricter(data: dict) -> None:
        _metric(data, "overtime_cost")["filter"] = "status = 'approved' AND amount > 0"

    domains = _hr_with(tmp_path / "a", stricter)
    with pytest.raises(PlatformError) as raised:
        build_domain(domains / "hr", settings)
    assert [str(p) for p in raised.value.problems] == [
        "domains/hr/products/overtime/product.yaml: metrics[3]: [breaking_changes_need_major] metric overtime_cost "
        "defined differently: filter \"status = 'approved'\" -> \"status = 'approved' AND amount > 0\" (published "
        "as 1.1.0); it would break finance.overtime_cost_ratio (fix: raise the major version (and keep the previous "
        "major published with `previous` until its consumers move))"
    ]

    def fewer(data: dict) -> None:
        data["metrics"] = [m for m in data["metrics"] if m["name"] != "banked_hours"]
        hours = _metric(data, "overtime_hours")  # its own list: YAML's alias shares one among the metrics
        hours["dimensions"] = [d for d in hours["dimensions"] if d != "status"]

    with pytest.raises(PlatformError) as raised:
        build_domain(_hr_with(tmp_path / "b", fewer) / "hr", settings)
    assert sorted(p.message.split(" (published")[0] for p in raised.value.problems) == [
        "[breaking_changes_need_major] metric banked_hours removed",
        "[breaking_changes_need_major] metric overtime_hours no longer by status",
    ]

    def compatible(data: dict) -> None:
        _metric(data, "overtime_cost")["label"] = "Cost of overtime"
        cost = _metric(data, "overtime_cost")
        cost["dimensions"] = [*cost["dimensions"], "dim_entity.entity_name"]
        data["metrics"].append({**_metric(data, "overtime_cost"), "name": "overtime_cost_all", "filter": None})

    assert build_domain(_hr_with(tmp_path / "c", compatible) / "hr", settings).assets


# --- exports, checked by the standards' own validators ----------------------------------------------------


def test_the_metricflow_export_passes_metricflows_validation() -> None:
    mesh = load_mesh(WORKSPACE)
    hr = next(p for p in mesh.products if p.product_address == "hr.overtime")
    documents = metricflow_documents(hr, {p.product_address: p for p in mesh.products})

    def issues(docs: list[dict]) -> list[str]:
        text = yaml.safe_dump_all(docs, sort_keys=False)
        built = parse_yaml_files_to_validation_ready_semantic_manifest(
            [YamlConfigFile(filepath="hr.yml", contents=text)], raise_issues_as_exceptions=False
        )
        found = [i.message for i in built.issues.all_issues]
        if built.semantic_manifest is not None:
            found += [
                i.message
                for i in SemanticManifestValidator().validate_semantic_manifest(built.semantic_manifest).all_issues
            ]
        return found

    assert issues(documents) == []
    models = [d["semantic_model"] for d in documents if "semantic_model" in d]
    metrics = {d["metric"]["name"]: d["metric"] for d in documents if "metric" in d}
    assert {m["name"] for m in models} >= {"hr_overtime_fact_overtime", "hr_overtime_dim_employee"}
    assert metrics["cost_per_employee"]["type"] == "ratio" and metrics["banked_hours"]["type"] == "derived"
    broken = [dict(d) for d in documents]
    broken.append({"metric": {"name": "orphan", "type": "simple", "label": "x", "type_params": {"measure": "nowhere"}}})
    assert any("nowhere" in message for message in issues(broken))


def test_the_odcs_export_marks_measures_and_dimensions() -> None:
    (product,) = load_domain(HR).products
    document = export_contract(product)
    assert validate_contract(document) == []
    fact = next(o for o in document["schema"] if o["name"] == "fact_overtime")
    roles = {p["name"]: p.get("semanticType") for p in fact["properties"]}
    assert roles["entity_id"] == roles["work_date"] == "dimension" and roles["amount"] is None
    cost = next(p for p in fact["properties"] if p["name"] == "overtime_cost")
    assert (
        cost["semanticType"] == "measure" and cost["transformLogic"] == "SUM(amount) FILTER (WHERE status = 'approved')"
    )
    employees = next(o for o in document["schema"] if o["name"] == "dim_employee")
    assert {p["name"]: p.get("semanticType") for p in employees["properties"]}["department"] == "dimension"


def test_the_docs_site_shows_each_metric_in_words_and_how_to_ask_it(tmp_path: Path) -> None:
    from platform_core.catalog.site import build_site

    build_site(load_mesh(WORKSPACE), tmp_path / "site")
    page = (tmp_path / "site" / "products" / "hr.overtime.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="metrics"') :]
    assert 'id="metric-cost_per_employee"' in section
    assert "the sum of amount of hr.overtime.fact_overtime, over the rows where status = &#39;approved&#39;" in section
    assert "SELECT * FROM hr.overtime_cost(&#39;month&#39;, &#39;entity_id&#39;)" in section
    assert "FROM &#34;hr&#34;.&#34;fact_overtime&#34;" in section  # the SQL that answers it in the serving database
    finance = (tmp_path / "site" / "products" / "finance.overtime_cost_ratio.html").read_text(encoding="utf-8")
    assert 'id="metrics"' not in finance  # no metric of its own: no empty section
