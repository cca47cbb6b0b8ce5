"""The HR domain end to end: materialize every asset in a temporary instance and warehouse,
then check row counts and the business views against numbers recomputed here, in plain
Python, straight from the source CSVs."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from domains.hr.sample_data import DIRTY_RECORDS
from platform_core.dagster.factory import build_domain
from platform_core.settings import Settings
from tests.conftest import PROJECT

DATA = PROJECT / "domains" / "hr" / "data"
CENT = Decimal("0.01")


pytestmark = pytest.mark.xdist_group("mesh")


@pytest.fixture(scope="module")
def run(mesh_run):
    return mesh_run.results["hr"], mesh_run.warehouse


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _valid_records() -> list[dict[str, str]]:
    """The records silver must keep: latest submission per record id, dirty rejects removed."""
    rejected_ids = {
        d["record_id"]
        for d in DIRTY_RECORDS
        if d["expected"] == "rejected" and d["rejection_reason"] != "duplicate_record"
    }
    latest: dict[str, dict[str, str]] = {}
    for row in _rows("overtime_records.csv"):
        kept = latest.get(row["record_id"])
        if kept is None or row["submitted_at"] >= kept["submitted_at"]:
            latest[row["record_id"]] = row
    return [r for r in latest.values() if r["record_id"] not in rejected_ids]


def _decimal(text: str) -> Decimal:
    return Decimal(text.strip().replace(",", "."))


def test_every_asset_materializes_with_every_check_green(run) -> None:
    result, _ = run
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert len(materialized) == 19
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= 100
    assert [e.check_name for e in evaluations if not e.passed] == []


def test_row_counts(run) -> None:
    _, warehouse = run
    records = _rows("overtime_records.csv")
    rejected = [d for d in DIRTY_RECORDS if d["expected"] == "rejected"]
    at = warehouse.snapshot()
    counts = {
        port: warehouse.read(f"hr.overtime.{port}", at=at).count("*").fetchall()[0][0]
        for port in ("dim_entity", "dim_employee", "dim_overtime_reason", "dim_period", "fact_overtime")
    }
    assert counts == {
        "dim_entity": len(_rows("entities.csv")),
        "dim_employee": len(_rows("employees.csv")),
        "dim_overtime_reason": len(_rows("overtime_reasons.csv")),
        "dim_period": 13,  # October 2025 to October 2026
        "fact_overtime": len(records) - len(rejected),
    }
    assert counts["fact_overtime"] == len(_valid_records())


def test_rejected_rows_are_kept_traceable(run) -> None:
    _, warehouse = run
    con = duckdb.connect(str(warehouse.database("hr")), read_only=True)
    rows = con.execute(
        'SELECT source_record_id, rejection_reason, source_file, source_row FROM "overtime"."overtime_rejected"'
    ).fetchall()
    expected = sorted((d["record_id"], d["rejection_reason"]) for d in DIRTY_RECORDS if d["expected"] == "rejected")
    assert sorted((r[0], r[1]) for r in rows) == expected
    lines = _rows("overtime_records.csv")
    for record_id, _, source_file, source_row in rows:  # the row number points at the raw line
        assert source_file == "overtime_records.csv" and lines[source_row - 1]["record_id"] == record_id


def test_payroll_view_pays_approved_compensable_overtime(run) -> None:
    _, warehouse = run
    rates = {e["employee_id"]: _decimal(e["hourly_rate"]) for e in _rows("employees.csv")}
    reasons = {r["reason_code"]: r for r in _rows("overtime_reasons.csv")}
    expected: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for record in _valid_records():
        reason = reasons[record["reason_code"].strip().upper()]
        if record["status"] != "approved" or reason["is_compensable"] != "true":
            continue
        amount = _decimal(record["hours"]) * rates[record["employee_id"]] * Decimal(reason["rate_multiplier"])
        period = int(record["work_date"][:7].replace("-", ""))
        expected[(record["employee_id"], period)] += amount.quantize(CENT, rounding=ROUND_HALF_UP)
    view = warehouse.read("hr.overtime.payroll_compensation").select("employee_id, period_id, amount_to_pay")
    actual = {(employee, period): amount for employee, period, amount in view.fetchall()}
    assert actual == dict(expected)


def test_oversight_and_analysis_views_reconcile_with_the_sources(run) -> None:
    _, warehouse = run
    hours = sum(_decimal(r["hours"]) for r in _valid_records() if r["status"] in ("approved", "pending"))
    pending = sum(_decimal(r["hours"]) for r in _valid_records() if r["status"] == "pending")
    oversight = warehouse.read("hr.overtime.team_oversight")
    analysis = warehouse.read("hr.overtime.overtime_analysis")
    assert Decimal(str(oversight.sum("total_hours").fetchall()[0][0])) == hours
    assert Decimal(str(oversight.sum("pending_hours").fetchall()[0][0])) == pending
    assert Decimal(str(analysis.sum("hours").fetchall()[0][0])) == hours
    shares = analysis.aggregate("entity_id, period_id, round(sum(share_of_entity_hours), 6) AS total").fetchall()
    assert {total for _, _, total in shares} == {1.0}


def test_published_ports_show_metadata(run) -> None:
    result, warehouse = run
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["hr", "overtime", "fact_overtime"])
    ]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == len(_valid_records())
    assert metadata["lake_table"].value == "lake.hr.overtime__fact_overtime"
    (publication,) = [p for p in warehouse.publications("hr.overtime") if p.run_id == result.run_id]
    assert metadata["lake_snapshot"].value == publication.snapshot_id
    assert metadata["product_version"].value == "1.1.0" and "dagster/column_lineage" in metadata


def test_hr_definitions_shape() -> None:
    defs = build_domain("hr", Settings(warehouse_root=Path("unused")))
    specs = {spec.key.to_user_string().removeprefix("hr/overtime/"): spec for spec in defs.resolve_all_asset_specs()}
    layers = defaultdict(list)
    for name, spec in specs.items():
        layers[spec.tags.get("port", spec.tags["layer"])].append(name)
    assert {layer: sorted(names) for layer, names in layers.items()} == {
        "bronze": ["raw_employees", "raw_entities", "raw_overtime_reasons", "raw_overtime_records"],
        "silver": [
            "employees",
            "entities",
            "overtime_reasons",
            "overtime_records",
            "overtime_records_validated",
            "overtime_rejected",
        ],
        "table": [
            "dim_employee",
            "dim_entity",
            "dim_overtime_reason",
            "dim_period",
            "fact_overtime",
            "fact_overtime_monthly",
        ],
        "view": ["overtime_analysis", "payroll_compensation", "team_oversight"],
    }
    fact_deps = sorted(d.asset_key.path[-1] for d in specs["fact_overtime"].deps)
    assert fact_deps == ["dim_employee", "dim_entity", "dim_overtime_reason", "dim_period", "overtime_records"]
    assert specs["employees"].kinds == {"duckdb", "pandas"} and specs["fact_overtime"].kinds == {
        "duckdb",
        "sql",
        "ducklake",
    }
    assert specs["dim_employee"].tags["classification"] == "personal"
    for spec in specs.values():  # what the UI shows on every HR asset
        assert spec.owners == ["team:hr-data", "hr-data@example.com"] and spec.group_name == "hr"
        assert spec.description and spec.metadata["dagster/column_schema"].columns
        assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)
        )
    checks = {c.name for a in defs.assets for c in a.check_specs if c.asset_key.path[-1] == "fact_overtime"}
    assert {
        "schema",
        "unique_overtime_id",
        "relationships_employee_id_dim_employee",
        "amount_is_hours_times_rate_times_multiplier",
    } <= checks
    (schedule,) = defs.schedules
    assert (schedule.name, schedule.cron_schedule, schedule.execution_timezone) == (
        "hr__overtime__schedule",
        "0 6 * * *",
        "Europe/Paris",
    )
