"""ODCS v3 contracts: every product of the mesh exports a contract the official JSON Schema
accepts, saying what the descriptor says; a contract imports to a product skeleton that loads;
and export -> import -> load -> export gives the contract back."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from platform_core.catalog.mesh import load_mesh
from platform_core.catalog.odcs import contract_yaml, export_contract, read_contract, validate_contract
from platform_core.catalog.odcs_import import import_contract, write_skeleton
from platform_core.descriptors.column_types import duckdb_type
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import Product
from platform_core.descriptors.workspace import read_workspace
from platform_core.errors import PlatformError
from platform_core.settings import Settings
from platform_core.storage.lake import LakeConfig
from tests.conftest import PROJECT
from tests.factories import copy_of_the_mesh, domain_yaml, product_yaml, write_domain

# Every product of the workspace's domains, by address (the descriptors are loaded once, below).
ADDRESSES = sorted(
    f"{location.domain}.{descriptor.parent.name}"
    for location in read_workspace(PROJECT / "workspace.yaml")
    if location.domain
    for descriptor in (PROJECT / "domains" / location.domain / "products").glob("*/product.yaml")
)
SETTINGS = Settings(warehouse_root=Path("/srv/warehouse"))


@pytest.fixture(scope="module")
def products() -> dict[str, Product]:
    mesh = load_mesh(PROJECT / "workspace.yaml")
    assert mesh.problems == ()
    return {product.product_address: product for product in mesh.products}


def _schema(document: dict[str, Any], port: str) -> dict[str, Any]:
    return next(o for o in document["schema"] if o["name"] == port)


def _property(document: dict[str, Any], port: str, column: str) -> dict[str, Any]:
    return next(p for p in _schema(document, port)["properties"] if p["name"] == column)


def _customs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {entry["property"]: entry["value"] for entry in entries}


def _checks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every quality entry of the document by name, schema-level and property-level alike."""
    checks = {}
    for obj in document["schema"]:
        for entry in obj.get("quality", []) + [q for p in obj["properties"] for q in p.get("quality", [])]:
            checks[f"{obj['name']}.{entry['name']}"] = entry
    return checks


def test_every_product_of_the_mesh_is_tested(products: dict[str, Product]) -> None:
    assert sorted(products) == ADDRESSES and len(ADDRESSES) >= 4


@pytest.mark.parametrize("address", ADDRESSES)
def test_every_product_exports_a_valid_deterministic_contract(address: str, products: dict[str, Product]) -> None:
    document = export_contract(products[address], SETTINGS)
    assert validate_contract(document) == []
    OpenDataContractStandard.model_validate(document)  # the package's own model reads it too
    assert export_contract(products[address], SETTINGS) == document
    assert yaml.safe_load(contract_yaml(document)) == json.loads(json.dumps(document))


def test_the_validator_reports_what_breaks_the_schema(products: dict[str, Product]) -> None:
    broken = copy.deepcopy(export_contract(products["hr.overtime"], SETTINGS))
    del broken["id"]
    broken["apiVersion"] = "v9.0.0"
    broken["schema"][0]["properties"][0]["logicalType"] = "decimal"
    broken["schema"][0]["quality"][0]["mustBeLessThan"] = 5
    broken["team"]["lead"] = "someone"
    errors = validate_contract(broken)
    assert "(document): 'id' is a required property" in errors
    assert any(e.startswith("apiVersion: 'v9.0.0' is not one of") for e in errors)
    assert any(e.startswith("schema[0].properties[0].logicalType: 'decimal' is not one of") for e in errors)
    assert "schema[0].quality[0]: give only one of mustBeGreaterOrEqualTo, mustBeLessThan" in errors
    assert "team: Additional properties are not allowed ('lead' was unexpected)" in errors


def test_hr_overtime_export_holds_its_contract(products: dict[str, Product]) -> None:
    document = export_contract(products["hr.overtime"], SETTINGS)
    assert {k: document[k] for k in ("apiVersion", "kind", "id", "name", "version", "status", "domain")} == {
        "apiVersion": "v3.2.0",  # its metrics are measures, which ODCS says from 3.2 (semanticType)
        "kind": "DataContract",
        "id": "urn:datacontract:hr:overtime",
        "name": "overtime",
        "version": "1.1.0",
        "status": "active",
        "domain": "hr",
    }
    assert document["description"]["purpose"].startswith("Overtime declared by the employees")
    assert "payroll: Calculating the overtime compensation" in document["description"]["usage"]
    assert document["team"] == {"id": "hr-data", "name": "HR Data"}
    assert document["support"][0]["url"] == "mailto:hr-data@example.com"
    assert "pii" in document["tags"]
    assert document["servers"] == [
        {
            "server": "lake",
            "type": "duckdb",
            "database": "ducklake:sqlite:/srv/warehouse/lake/catalog.sqlite",
            "schema": "hr",
            "description": document["servers"][0]["description"],
            "customProperties": [{"property": "dataPath", "value": "/srv/warehouse/lake/data/"}],
        }
    ]

    payroll = _schema(document, "payroll_compensation")
    assert payroll["physicalName"] == "overtime__payroll_compensation"
    assert _customs(payroll["customProperties"]) == {
        "kind": "view",
        "classification": "confidential",
        # names in clear for the payroll group; every other reader gets the masked copy
        "grants": [
            {"group": "payroll", "personal": True, "purpose": "Paying each employee their overtime every month."}
        ],
        "maskedPhysicalName": "overtime__payroll_compensation__masked",
    }
    assert [(p["name"], p["logicalType"], p["physicalType"], p["required"]) for p in payroll["properties"][:5]] == [
        ("employee_id", "string", "VARCHAR", True),
        ("full_name", "string", "VARCHAR", True),
        ("entity_id", "string", "VARCHAR", True),
        ("period_id", "integer", "BIGINT", True),
        ("currency", "string", "VARCHAR", True),
    ]
    assert [(p["name"], p["primaryKeyPosition"]) for p in payroll["properties"] if p.get("primaryKey")] == [
        ("employee_id", 1),
        ("period_id", 2),
    ]

    employee = _schema(document, "dim_employee")
    assert _customs(employee["customProperties"]) == {
        "kind": "table",
        "classification": "confidential",
        "access": "restricted",
        "grants": [
            {
                "group": "payroll",
                "personal": True,
                "purpose": "Paying each employee their overtime: names and e-mails in clear.",
            },
            {
                "group": "managers",
                "personal": True,
                "purpose": "Knowing who is in their own team (their team's rows only).",
            },
            {
                "group": "hr_business_partners",
                "purpose": "Analysing overtime by organisation; names and e-mails stay masked.",
            },
        ],
        "rowFilters": [{"group": "managers", "column": "manager_id", "equals": "employee_id"}],
        "maskedPhysicalName": "overtime__dim_employee__masked",
    }
    for personal in ("full_name", "email"):
        prop = _property(document, "dim_employee", personal)
        assert prop["classification"] == "personal"
        assert _customs(prop["customProperties"]) == {"masking": "hash"}
    assert _property(document, "dim_employee", "team")["classification"] == "confidential"
    assert _property(document, "dim_employee", "email")["unique"] is True
    assert _property(document, "dim_employee", "employee_id")["primaryKey"] is True

    sla = {entry["id"]: entry for entry in document["slaProperties"]}
    assert (
        sla["freshness_fail_after"]["property"],
        sla["freshness_fail_after"]["value"],
        sla["freshness_fail_after"]["unit"],
    ) == ("latency", 26, "h")
    assert (sla["freshness_warn_after"]["value"], sla["freshness_warn_after"]["unit"]) == (25, "h")
    assert (sla["schedule"]["scheduler"], sla["schedule"]["schedule"]) == ("cron", "0 6 * * *")
    product = _customs(document["customProperties"])
    assert product["scheduleTimezone"] == "Europe/Paris" and product["title"] == "HR Overtime"
    assert {"name": "finance_cost_ratio", "product": "finance.overtime_cost_ratio"}.items() <= next(
        c for c in product["consumers"] if c["name"] == "finance_cost_ratio"
    ).items()


def test_every_kind_of_rule_is_mapped(products: dict[str, Product]) -> None:
    checks = _checks(export_contract(products["hr.overtime"], SETTINGS))
    checks |= _checks(export_contract(products["finance.overtime_accruals"], SETTINGS))

    def mapped(name: str, *keys: str) -> dict[str, Any]:
        entry = checks[name]
        rule = _customs(entry["customProperties"])["meshRule"]
        return {key: entry[key] for key in keys if key in entry} | {"rule": rule}

    assert mapped("fact_overtime_accruals.every_month_is_budgeted", "metric", "mustBe", "severity") == {
        "metric": "nullValues",
        "mustBe": 0,
        "severity": "warning",
        "rule": {"type": "not_null", "name": "every_month_is_budgeted", "severity": "warn", "column": "budget_amount"},
    }
    assert mapped("payroll_compensation.unique_employee_id_period_id", "metric", "arguments", "mustBe") == {
        "metric": "duplicateValues",
        "arguments": {"properties": ["employee_id", "period_id"]},
        "mustBe": 0,
        "rule": {"type": "unique", "columns": ["employee_id", "period_id"]},
    }
    assert mapped("fact_overtime.accepted_values_status", "metric", "arguments") == {
        "metric": "invalidValues",
        "arguments": {"validValues": ["approved", "pending", "rejected"]},
        "rule": {"type": "accepted_values", "column": "status", "values": ["approved", "pending", "rejected"]},
    }
    assert mapped("dim_employee.row_count", "metric", "mustBeGreaterOrEqualTo") == {
        "metric": "rowCount",
        "mustBeGreaterOrEqualTo": 100,
        "rule": {"type": "row_count", "min": 100},
    }
    assert mapped("fact_overtime.range_hours", "type", "query", "mustBe") == {
        "type": "sql",
        "query": 'SELECT count(*) FROM {object} WHERE "hours" < 0 OR "hours" > 16',
        "mustBe": 0,
        "rule": {"type": "range", "column": "hours", "min": 0.0, "max": 16.0},
    }
    assert "INTERVAL '1560 minutes'" in checks["fact_overtime.max_age_loaded_at"]["query"]
    assert '"hr"."overtime__dim_employee"' in checks["fact_overtime.relationships_employee_id_dim_employee"]["query"]
    assert checks["fact_overtime.amount_is_hours_times_rate_times_multiplier"]["query"] == (
        "SELECT count(*) FROM {object} WHERE NOT (amount = round(hours * hourly_rate * rate_multiplier, 2))"
    )
    fact = export_contract(products["hr.overtime"], SETTINGS)
    assert _property(fact, "fact_overtime", "employee_id")["relationships"] == [
        {"type": "foreignKey", "to": "dim_employee.employee_id"}
    ]


def test_exported_sql_checks_run_on_the_lake_tables(products: dict[str, Product]) -> None:
    """Each SQL check binds in DuckDB against tables of the ports' columns, named as in the lake."""
    document = export_contract(products["hr.overtime"], SETTINGS)
    port_columns = {p.name: p.columns for p in products["hr.overtime"].output_ports}
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA hr")
        for obj in document["schema"]:
            columns = ", ".join(f'"{c.name}" {duckdb_type(c.type)}' for c in port_columns[obj["name"]])
            con.execute(f'CREATE TABLE hr."{obj["physicalName"]}" ({columns})')
        queries = [
            (obj["physicalName"], entry["query"])
            for obj in document["schema"]
            for entry in obj.get("quality", []) + [q for p in obj["properties"] for q in p.get("quality", [])]
            if entry["type"] == "sql"
        ]
        assert len(queries) > 20
        for table, query in queries:
            (value,) = con.execute(query.replace("{object}", f'hr."{table}"')).fetchone()
            assert value in (0, 1)  # empty tables break nothing but freshness


def _round_trip(product: Product, domains: Path) -> tuple[dict[str, Any], dict[str, Any], Product]:
    """Export, import into the product's own folder under `domains`, load, export again."""
    first = export_contract(product, SETTINGS)
    folder = domains / product.domain / "products" / product.name
    shutil.rmtree(folder)
    write_skeleton(import_contract(first), folder)
    again = next(p for p in load_domain(domains / product.domain).products if p.name == product.name)
    return first, export_contract(again, SETTINGS), again


def _inputs_apart(document: dict[str, Any]) -> list[str]:
    """Take the inputs custom property out of `document`: the one field a round trip changes, as a
    contract lists every input of the product and an import gives back only the port inputs its
    relationships rules check against (no SQL reads the others)."""
    inputs = _customs(document["customProperties"]).get("inputs", [])
    document["customProperties"] = [c for c in document["customProperties"] if c["property"] != "inputs"]
    return [i["name"] for i in inputs]


@pytest.mark.parametrize("address", ADDRESSES)
def test_export_import_export_keeps_the_contract(address: str, products: dict[str, Product], tmp_path: Path) -> None:
    product = products[address]
    first, second, again = _round_trip(product, copy_of_the_mesh(tmp_path))
    assert set(_inputs_apart(second)) <= set(_inputs_apart(first))
    assert second == first
    # and the specs agree on what both formats say, rules compared as sets (an import orders them
    # schema-level first, then by column)
    assert (again.owner, again.version, again.status, again.tags, again.sla, again.schedule, again.consumers) == (
        product.owner,
        product.version,
        product.status,
        product.tags,
        product.sla,
        product.schedule,
        product.consumers,
    )
    for old, new in zip(product.output_ports, again.output_ports, strict=True):
        assert [
            (c.name, c.type, c.nullable, c.unique, c.description, old.column_classification(c)) for c in old.columns
        ] == [(c.name, c.type, c.nullable, c.unique, c.description, new.column_classification(c)) for c in new.columns]
        assert sorted(r.model_dump_json() for r in old.quality) == sorted(r.model_dump_json() for r in new.quality)
        assert (old.kind, old.classification, old.access, old.grants) == (
            new.kind,
            new.classification,
            new.access,
            new.grants,
        )


def _rarer(sla: bool) -> dict[str, Any]:
    """The factories' product with what no product of the mesh uses: a freshness by cron (or no SLA,
    the platform's default), a paused schedule, a sunset, a restricted port with a grant and a
    personal column masked to null."""
    product = product_yaml() | {
        "status": "deprecated",
        "sunset": "2027-01-31",
        "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Paris", "enabled": False},
    }
    product["sla"] = {"freshness": {"cron": "0 7 * * *", "timezone": "Europe/Paris", "lower_bound": "1d12h"}}
    if not sla:
        del product["sla"]
    customers = product["output_ports"][0]
    customers |= {"access": "restricted", "grants": [{"consumer": "ledger.vat", "purpose": "VAT", "personal": True}]}
    customers["columns"][0] |= {"classification": "personal", "masking": "null"}
    return product


@pytest.mark.parametrize("sla", [True, False], ids=["cron_freshness", "platform_default"])
def test_the_rarer_fields_survive_a_round_trip(sla: bool, tmp_path: Path) -> None:
    domains = write_domain(tmp_path, _rarer(sla)).parent
    (product,) = load_domain(domains / "shop").products
    first, second, again = _round_trip(product, domains)
    assert (_inputs_apart(first), _inputs_apart(second)) == (["orders_file"], [])
    assert second == first and validate_contract(first) == []
    assert (again.sla, again.schedule, again.sunset, again.output_ports[0].grants) == (
        product.sla,
        product.schedule,
        product.sunset,
        product.output_ports[0].grants,
    )
    assert again.output_ports[0].columns[0].masking == "null" and again.output_ports[0].access == "restricted"
    if sla:
        assert next(e for e in first["slaProperties"] if e["id"] == "freshness_cron") | {"description": ""} == {
            "id": "freshness_cron",
            "property": "latency",
            "value": 36,
            "unit": "h",
            "scheduler": "cron",
            "schedule": "0 7 * * *",
            "description": "",
        }
    else:
        assert {"property": "freshnessIsPlatformDefault", "value": True} in first["customProperties"]


HAND_WRITTEN = """
# A contract written elsewhere, in the style of the ODCS examples.
apiVersion: v3.1.0
kind: DataContract
id: 53581432-6c55-4ba2-a65f-72344a91553a
name: seller_payments
version: 1.1.0
status: active
domain: seller
description:
  purpose: Payments received by sellers, one row per transaction.
tags: [finance, payments]
team:
  name: Seller Data
  members:
    - {username: ceastwood, role: Data Scientist}
    - {username: seller-data@example.com, role: owner, dateIn: 2022-10-01}
support:
  - {channel: "#seller-data", tool: slack, url: "https://example.slack.com/archives/C01"}
slaProperties:
  - {property: latency, value: 4, unit: d}
  - {property: frequency, value: 1, unit: d, scheduler: cron, schedule: "0 20 * * *"}
  - {property: retention, value: 3, unit: y}
schema:
  - name: transactions
    physicalName: txn_1
    physicalType: table
    description: One row per payment transaction.
    quality:
      - {metric: rowCount, mustBeGreaterThan: 99}
      - {id: amount_positive, type: sql, query: "SELECT COUNT(*) FROM {object} WHERE amount <= 0", mustBe: 0,
         severity: warning}
      - {type: text, description: Every transaction reaches us within a day.}
    properties:
      - {name: tenantId, logicalType: string, physicalType: varchar(18), primaryKey: true, primaryKeyPosition: 1,
         description: Tenant.}
      - {name: txnId, logicalType: integer, physicalType: bigint, primaryKey: true, primaryKeyPosition: 2,
         description: Transaction id.}
      - name: txn_ref_dt
        logicalType: date
        description: Reference date of the transaction.
        classification: public
        quality: [{metric: nullValues, mustBe: 0}]
      - name: amount
        logicalType: number
        physicalType: decimal(12,2)
        description: Amount paid.
        quality:
          - {type: sql, name: amount below a million, mustBe: 0,
             query: "SELECT COUNT(*) FROM {object} WHERE {property} > 1000000"}
      - name: status
        logicalType: string
        description: Payment status.
        quality:
          - {metric: invalidValues, arguments: {validValues: [paid, refunded]}, mustBe: 0}
          - {metric: nullValues, mustBeLessThan: 5, unit: percent}
      - {name: buyer_email, logicalType: string, classification: restricted, description: E-mail of the buyer.}
      - {name: country_code, logicalType: string, description: Country, relationships: [{to: countries.code}]}
  - name: countries
    description: One row per country.
    properties:
      - {name: code, logicalType: string, required: true, unique: true, description: ISO 3166 code.}
"""


def test_a_hand_written_contract_becomes_a_product_that_loads(tmp_path: Path) -> None:
    (tmp_path / "payments.odcs.yaml").write_text(HAND_WRITTEN, encoding="utf-8")
    document = read_contract(tmp_path / "payments.odcs.yaml")
    assert validate_contract(document) == []
    skeleton = import_contract(document)
    domain_dir = tmp_path / "domains" / "seller"
    domain_dir.mkdir(parents=True)
    (domain_dir / "domain.yaml").write_text(yaml.safe_dump(domain_yaml("seller")), encoding="utf-8")
    written = write_skeleton(skeleton, domain_dir / "products" / skeleton.name)
    assert sorted(p.relative_to(domain_dir).as_posix() for p in written) == [
        "products/seller_payments/product.yaml",
        "products/seller_payments/sql/gold/countries.sql",
        "products/seller_payments/sql/gold/transactions.sql",
    ]

    (product,) = load_domain(domain_dir).products
    assert (product.name, product.domain, product.version, product.status) == (
        "seller_payments",
        "seller",
        "1.1.0",
        "active",
    )
    assert (product.owner.team, product.owner.name, product.owner.contact) == (
        "seller-data",
        "Seller Data",
        "seller-data@example.com",
    )
    assert product.sla.freshness.fail_after.days == 4
    assert (product.schedule.cron, product.schedule.timezone) == ("0 20 * * *", "UTC")
    transactions = product.output_ports[0]
    assert [(c.name, c.type, c.nullable, c.classification) for c in transactions.columns] == [
        ("tenant_id", "string", False, None),
        ("txn_id", "integer", False, None),
        ("txn_ref_dt", "date", True, "public"),
        ("amount", "decimal(12,2)", True, None),
        ("status", "string", True, None),
        ("buyer_email", "string", True, "confidential"),
        ("country_code", "string", True, None),
    ]
    assert [json.loads(r.model_dump_json(exclude_defaults=True)) for r in transactions.quality] == [
        {"type": "row_count", "min": 100},
        {"name": "amount_positive", "severity": "warn", "type": "expression", "expression": "NOT (amount <= 0)"},
        {"type": "not_null", "column": "txn_ref_dt"},
        {"name": "amount_below_a_million", "type": "expression", "expression": 'NOT ("amount" > 1000000)'},
        {"type": "accepted_values", "column": "status", "values": ["paid", "refunded"]},
        {"type": "relationships", "column": "country_code", "to": "countries", "field": "code"},
        {"type": "unique", "columns": ["tenant_id", "txn_id"]},
    ]
    assert transactions.depends_on == ("countries",)
    notes = "\n".join(skeleton.notes)
    for left_out in (
        "quality 'text'",
        "quality 'nullValues'",
        "SLA retention 3 y",
        "give it a classification",
        "column 'tenantId' is 'tenant_id'",
    ):
        assert left_out in notes
    assert "#   - transactions: quality 'text' (text) has no rule here" in skeleton.product_yaml()
    assert validate_contract(export_contract(product)) == []


def test_an_import_never_overwrites(products: dict[str, Product], tmp_path: Path) -> None:
    skeleton = import_contract(export_contract(products["sales.orders"]))
    folder = tmp_path / "orders"
    (folder / "sql" / "gold").mkdir(parents=True)
    (folder / "sql" / "gold" / "dim_customer.sql").write_text("SELECT 1 AS kept\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"dim_customer\.sql already exist; nothing was written"):
        write_skeleton(skeleton, folder)
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["dim_customer.sql"]


def test_what_cannot_become_a_product_is_refused() -> None:
    with pytest.raises(PlatformError) as refused:
        import_contract({"apiVersion": "v2.2.2", "kind": "DataContract", "id": "x", "version": "1"})
    assert {(p.field, p.message.split(":")[0]) for p in refused.value.problems} == {
        ("apiVersion", "'v2.2.2'"),
        ("name", "missing"),
        ("domain", "missing"),
        ("schema", "missing"),
    }


def test_a_port_alone_and_the_lake_password_left_out(products: dict[str, Product]) -> None:
    lake = LakeConfig(catalog="postgres:dbname=lake host=db user=mesh password=s3cret", data_path="s3://bucket/lake/")
    document = export_contract(
        products["hr.overtime"], Settings(warehouse_root=Path("/srv"), lake=lake), port="payroll_compensation"
    )
    assert [o["name"] for o in document["schema"]] == ["payroll_compensation"]
    assert document["servers"][0]["database"] == "ducklake:postgres:dbname=lake host=db user=mesh"
    assert "s3cret" not in json.dumps(document) and validate_contract(document) == []
    uri = LakeConfig(catalog="postgres:postgresql://mesh:s3cret@db/lake", data_path="s3://bucket/lake/")
    assert (
        export_contract(products["hr.overtime"], Settings(warehouse_root=Path("/srv"), lake=uri))["servers"][0][
            "database"
        ]
        == "ducklake:postgres:postgresql://mesh@db/lake"
    )
    with pytest.raises(LookupError, match=r"hr\.overtime has no output port 'no_such_port'; it publishes: dim_entity"):
        export_contract(products["hr.overtime"], port="no_such_port")
