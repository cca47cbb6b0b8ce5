"""Classification follows the data: a column made from a personal column is personal, a port made
from a restricted port is restricted, through SQL and across domains (`classification_follows_data`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.descriptors.lineage import column_sources
from platform_core.descriptors.loader import load_domain
from platform_core.governance.evaluate import govern, mesh_context
from tests.factories import copy_of_the_mesh, edit_yaml

STAFF_NAMES = {
    "name": "staff_names",
    "kind": "view",
    "classification": "internal",
    "description": "Every employee's name and e-mail, for directories.",
    "sql": "sql/views/staff_names.sql",
    "depends_on": ["dim_employee"],
    "columns": [
        {"name": "employee_id", "type": "string", "description": "Employee id."},
        {"name": "full_name", "type": "string", "description": "First and last name."},
        {"name": "email", "type": "string", "description": "Work e-mail address."},
    ],
}
SALES_COPY = {
    "name": "staff_directory",
    "kind": "table",
    "classification": "public",
    "description": "The staff directory, republished for the sales team.",
    "sql": "sql/staff_directory.sql",
    "depends_on": ["staff_names"],
    "columns": [
        {"name": "employee_id", "type": "string", "description": "Employee id."},
        {"name": "full_name", "type": "string", "description": "Name of the employee."},
        {"name": "contact", "type": "string", "description": "E-mail of the employee."},
    ],
}


def _violations(domains: Path, domain: str) -> list[str]:
    spec = load_domain(domains / domain)
    return [
        f"{v.field}: {v.message}"
        for v in govern(spec, mesh_context(domains))
        if v.policy == "classification_follows_data"
    ]


@pytest.fixture
def staff_names(tmp_path: Path) -> Path:
    """The mesh with HR's internal view of names and e-mails, classified nothing special."""
    domains = copy_of_the_mesh(tmp_path)
    hr = domains / "hr" / "products" / "overtime"
    (hr / "sql" / "views" / "staff_names.sql").write_text("SELECT employee_id, full_name, email FROM dim_employee\n")
    edit_yaml(hr / "product.yaml", lambda data: data["output_ports"].append(dict(STAFF_NAMES)))
    return domains


def test_a_view_of_personal_columns_is_personal_or_refused(staff_names: Path) -> None:
    assert _violations(staff_names, "hr") == [
        "output_ports[9].columns[1].classification: staff_names.full_name carries dim_employee.full_name, "
        "personal data, but is classified internal",
        "output_ports[9].columns[2].classification: staff_names.email carries dim_employee.email, "
        "personal data, but is classified internal",
    ]


def test_personal_data_republished_by_another_domain_stays_personal(staff_names: Path) -> None:
    hr = staff_names / "hr" / "products" / "overtime" / "product.yaml"

    def personal(data: dict) -> None:
        for column in data["output_ports"][-1]["columns"][1:]:
            column.update(classification="personal", masking="hash")

    edit_yaml(hr, personal)
    assert _violations(staff_names, "hr") == []
    sales = staff_names / "sales" / "products" / "orders"
    (sales / "sql" / "staff_directory.sql").write_text(
        "WITH named AS (SELECT employee_id, full_name, email FROM staff_names)\n"
        "SELECT employee_id, upper(full_name) AS full_name, email AS contact FROM named\n"
    )

    def read_it(data: dict) -> None:
        data["inputs"].append(
            {"name": "staff_names", "kind": "port", "address": "hr.overtime.staff_names", "purpose": "Directory"}
        )
        data["output_ports"].append(dict(SALES_COPY))

    edit_yaml(sales / "product.yaml", read_it)
    assert _violations(staff_names, "sales") == [
        "output_ports[4].columns[1].classification: staff_directory.full_name carries "
        "hr.overtime.staff_names.full_name, personal data, but is classified public",
        "output_ports[4].columns[2].classification: staff_directory.contact carries "
        "hr.overtime.staff_names.email, personal data, but is classified public",
    ]
    # counting people is not publishing them
    (sales / "sql" / "staff_directory.sql").write_text(
        "SELECT employee_id, CAST(count(full_name) AS VARCHAR) AS full_name, "
        "CAST(count(DISTINCT email) AS VARCHAR) AS contact FROM staff_names GROUP BY employee_id\n"
    )
    assert _violations(staff_names, "sales") == []


def test_a_port_made_from_a_restricted_port_is_restricted(tmp_path: Path) -> None:
    domains = copy_of_the_mesh(tmp_path)
    finance = domains / "finance" / "products" / "overtime_cost_ratio" / "product.yaml"
    hr = domains / "hr" / "products" / "overtime" / "product.yaml"

    def restrict(data: dict) -> None:
        (port,) = [p for p in data["output_ports"] if p["name"] == "fact_overtime"]  # finance asks its metrics
        port["access"] = "restricted"
        port["grants"] = [{"consumer": "finance.overtime_cost_ratio", "purpose": "Cost ratio"}]

    edit_yaml(hr, restrict)
    found = _violations(domains, "finance")
    expected = "hr.overtime.fact_overtime, a restricted port, but is not restricted"
    assert found and all(expected in f for f in found)
    edit_yaml(finance, lambda data: [p.update(access="restricted") for p in data["output_ports"]])
    assert _violations(domains, "finance") == []


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT a AS x, b FROM t", {"x": {("t", "a")}, "b": {("t", "b")}}),
        ("SELECT * FROM t", {"a": {("t", "a")}, "b": {("t", "b")}}),
        ("WITH c AS (SELECT a || b AS ab FROM t) SELECT ab FROM c", {"ab": {("t", "a"), ("t", "b")}}),
        ("SELECT x FROM (SELECT a AS x FROM t) s", {"x": {("t", "a")}}),
        ("SELECT a FROM t UNION ALL SELECT c FROM u", {"a": {("t", "a"), ("u", "c")}}),
        ("SELECT count(a) AS n, count(DISTINCT b) AS m FROM t", {"n": set(), "m": set()}),
        ("SELECT max(a) AS top FROM t GROUP BY b", {"top": {("t", "a")}}),
        ("SELECT t.a, u.c FROM t JOIN u ON t.b = u.c WHERE t.b > 0", {"a": {("t", "a")}, "c": {("u", "c")}}),
        ("SELECT row_number() OVER (PARTITION BY a ORDER BY b) AS n FROM t", {"n": set()}),
    ],
)
def test_which_columns_a_select_carries(sql: str, expected: dict) -> None:
    found = column_sources(sql, {"t": ["a", "b"], "u": ["c"]})
    assert {name: set(sources) for name, sources in found.items()} == expected
