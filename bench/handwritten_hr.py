"""HR Overtime written by hand: the product's SQL, checks and publication in Python + DuckDB, no platform.

    .venv/bin/python bench/handwritten_hr.py --sources DIR --database :memory: --lake DIR --json
    .venv/bin/python bench/handwritten_hr.py --sources DIR --database DIR/hr.duckdb --lake DIR --json
    .venv/bin/python bench/handwritten_hr.py ... --memory-limit 1500MB  # the platform's MESH_COMPUTE_MEMORY

What a data engineer would write for this one product without the platform, doing the same
work: the four CSV extracts read as the platform reads them (every column text, the dialect
fixed, plus source_file, source_row and ingested_at), the product's own SQL files run as they
are (domains/hr/products/overtime/sql/, each dependency a table of the same name), every
one of the product's 240 checks (a schema check per table, then its rules; one query each),
and the 9 ports published into a DuckLake (SQLite catalog, local data folder) in one
transaction, with the masked copies of dim_employee and payroll_compensation. The extensions
come from their PyPI wheels, as the platform installs them. A blocking check that fails stops
the run before publication.

Differences, on purpose: the employee master (a pandas step in the platform) is cleaned in
SQL, the same rules (whitespace collapsed and trimmed, names typed all upper or all lower case
title-cased, codes upper case, e-mail lower case, comma decimals, ISO dates; the result
matches transforms.clean_employees, except for exotic whitespace and letters such as 'ß' that
Python cases differently), or with `--employees pandas` by the product's own function, as the
product does; no sample of failing rows, no per-table checksum, no contract kept in the lake,
no Dagster.

Prints the seconds spent (building and checking each table: `by_table`, [build, checks]),
row counts of every table, check results and, unless --no-fingerprint, each published
port's row count and fingerprint (`lake_fingerprints`, what bench/run.py compares with the
platform's lake). Personal columns are masked with MESH_MASKING_KEY as the platform masks them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
SQL = PROJECT / "domains" / "hr" / "products" / "overtime" / "sql"
SCHEMA, PRODUCT = "hr", "overtime"  # the lake table of a port: lake.hr.overtime__<port>

FILES = {  # input name -> file and its columns
    "entities_file": ("entities.csv", ["entity_id", "entity_name", "country", "currency"]),
    "employees_file": (
        "employees.csv",
        [
            "employee_id",
            "first_name",
            "last_name",
            "email",
            "entity_id",
            "department",
            "team",
            "manager_id",
            "job_title",
            "hire_date",
            "hourly_rate",
            "weekly_contract_hours",
        ],
    ),
    "overtime_reasons_file": (
        "overtime_reasons.csv",
        ["reason_code", "label", "category", "rate_multiplier", "is_compensable"],
    ),
    "overtime_records_file": (
        "overtime_records.csv",
        ["record_id", "employee_id", "work_date", "hours", "reason_code", "status", "approved_by", "submitted_at"],
    ),
}

EMPLOYEES_SQL = """
SELECT
    upper(clean_text(employee_id))                          AS employee_id,
    clean_name(first_name)                                  AS first_name,
    clean_name(last_name)                                   AS last_name,
    lower(clean_text(email))                                AS email,
    upper(clean_text(entity_id))                            AS entity_id,
    clean_text(department)                                  AS department,
    clean_text(team)                                        AS team,
    upper(clean_text(manager_id))                           AS manager_id,
    clean_text(job_title)                                   AS job_title,
    iso_date(clean_text(hire_date))                         AS hire_date,
    CAST(to_number(clean_text(hourly_rate)) AS DECIMAL(8, 2)) AS hourly_rate,
    to_number(clean_text(weekly_contract_hours))            AS weekly_contract_hours,
    CAST(source_row AS BIGINT)                              AS source_row
FROM raw_employees
ORDER BY employee_id NULLS LAST, source_row
"""
MACROS = [
    r"CREATE OR REPLACE TEMP MACRO clean_text(v) AS nullif(trim(regexp_replace(v, '\s+', ' ', 'g')), '')",
    # str.title(): a letter after a letter lower case, any other upper case
    "CREATE OR REPLACE TEMP MACRO title_case(t) AS array_to_string(list_transform(range(1, length(t) + 1), "
    "i -> CASE WHEN i = 1 OR upper(t[i - 1]) = lower(t[i - 1]) THEN upper(t[i]) ELSE lower(t[i]) END), '')",
    "CREATE OR REPLACE TEMP MACRO fix_case(t) AS CASE WHEN (t = upper(t) AND t <> lower(t)) "
    "OR (t = lower(t) AND t <> upper(t)) THEN title_case(t) ELSE t END",
    "CREATE OR REPLACE TEMP MACRO clean_name(v) AS fix_case(clean_text(v))",
    r"CREATE OR REPLACE TEMP MACRO iso_date(t) AS CASE WHEN regexp_full_match(t, '\d{4}-\d{2}-\d{2}') "
    "THEN TRY_CAST(t AS DATE) END",
    "CREATE OR REPLACE TEMP MACRO to_number(t) AS round(TRY_CAST(replace(t, ',', '.') AS DOUBLE), 2)",
]

# Tables in build order: the SQL file (or query) of each, as the product declares them.
STEPS = [
    ("raw_entities", "bronze/raw_entities.sql"),
    ("raw_employees", "bronze/raw_employees.sql"),
    ("raw_overtime_reasons", "bronze/raw_overtime_reasons.sql"),
    ("raw_overtime_records", "bronze/raw_overtime_records.sql"),
    ("entities", "silver/entities.sql"),
    ("employees", EMPLOYEES_SQL),
    ("overtime_reasons", "silver/overtime_reasons.sql"),
    ("overtime_records_validated", "silver/overtime_records_validated.sql"),
    ("overtime_records", "silver/overtime_records.sql"),
    ("overtime_rejected", "silver/overtime_rejected.sql"),
    ("dim_entity", "gold/dim_entity.sql"),
    ("dim_period", "gold/dim_period.sql"),
    ("dim_overtime_reason", "gold/dim_overtime_reason.sql"),
    ("dim_employee", "gold/dim_employee.sql"),
    ("fact_overtime", "gold/fact_overtime.sql"),
    ("fact_overtime_monthly", "gold/fact_overtime_monthly.sql"),
    ("team_oversight", "views/team_oversight.sql"),
    ("payroll_compensation", "views/payroll_compensation.sql"),
    ("overtime_analysis", "views/overtime_analysis.sql"),
]
PORTS = [name for name, _ in STEPS[10:]]
PERSONAL = {  # published masked too, as <port>__masked
    "dim_employee": ["full_name", "email"],
    "payroll_compensation": ["full_name"],
}

# --------------------------------------------------------------------------------------
# The checks: each table's schema, then its rules, one query each returning (passed, failing rows)
# --------------------------------------------------------------------------------------

RAW = "source_file VARCHAR, source_row BIGINT, ingested_at TIMESTAMP"
SCHEMAS = {
    "raw_entities": f"entity_id VARCHAR, entity_name VARCHAR, country VARCHAR, currency VARCHAR, {RAW}",
    "raw_employees": "employee_id VARCHAR, first_name VARCHAR, last_name VARCHAR, email VARCHAR, entity_id VARCHAR, "
    "department VARCHAR, team VARCHAR, manager_id VARCHAR, job_title VARCHAR, hire_date VARCHAR, "
    f"hourly_rate VARCHAR, weekly_contract_hours VARCHAR, {RAW}",
    "raw_overtime_reasons": "reason_code VARCHAR, label VARCHAR, category VARCHAR, rate_multiplier VARCHAR, "
    f"is_compensable VARCHAR, {RAW}",
    "raw_overtime_records": "record_id VARCHAR, employee_id VARCHAR, work_date VARCHAR, hours VARCHAR, "
    f"reason_code VARCHAR, status VARCHAR, approved_by VARCHAR, submitted_at VARCHAR, {RAW}",
    "entities": "entity_id VARCHAR, entity_name VARCHAR, country VARCHAR, currency VARCHAR, source_row BIGINT",
    "employees": "employee_id VARCHAR, first_name VARCHAR, last_name VARCHAR, email VARCHAR, entity_id VARCHAR, "
    "department VARCHAR, team VARCHAR, manager_id VARCHAR, job_title VARCHAR, hire_date DATE, "
    "hourly_rate DECIMAL(8,2), weekly_contract_hours DOUBLE, source_row BIGINT",
    "overtime_reasons": "reason_code VARCHAR, label VARCHAR, category VARCHAR, rate_multiplier DECIMAL(4,2), "
    "is_compensable BOOLEAN, source_row BIGINT",
    "overtime_records_validated": "record_id VARCHAR, employee_id VARCHAR, work_date DATE, hours DECIMAL(6,2), "
    "reason_code VARCHAR, status VARCHAR, approved_by VARCHAR, submitted_at TIMESTAMP, "
    "source_file VARCHAR, source_row BIGINT, rejection_reason VARCHAR",
    "overtime_records": "record_id VARCHAR, employee_id VARCHAR, work_date DATE, hours DECIMAL(6,2), "
    "reason_code VARCHAR, status VARCHAR, approved_by VARCHAR, submitted_at TIMESTAMP, "
    "source_file VARCHAR, source_row BIGINT",
    "overtime_rejected": "source_record_id VARCHAR, source_file VARCHAR, source_row BIGINT, rejection_reason VARCHAR, "
    "raw_employee_id VARCHAR, raw_work_date VARCHAR, raw_hours VARCHAR, raw_reason_code VARCHAR, "
    "raw_status VARCHAR, raw_approved_by VARCHAR, raw_submitted_at VARCHAR, ingested_at TIMESTAMP",
    "dim_entity": "entity_id VARCHAR, entity_name VARCHAR, country VARCHAR, currency VARCHAR",
    "dim_period": "period_id INTEGER, year INTEGER, month INTEGER, month_name VARCHAR, quarter INTEGER, "
    "period_start DATE, period_end DATE, working_days INTEGER",
    "dim_overtime_reason": "reason_code VARCHAR, label VARCHAR, category VARCHAR, rate_multiplier DECIMAL(4,2), "
    "is_compensable BOOLEAN",
    "dim_employee": "employee_id VARCHAR, full_name VARCHAR, email VARCHAR, entity_id VARCHAR, department VARCHAR, "
    "team VARCHAR, manager_id VARCHAR, job_title VARCHAR, hire_date DATE, hourly_rate DECIMAL(8,2)",
    "fact_overtime": "overtime_id BIGINT, employee_id VARCHAR, entity_id VARCHAR, period_id INTEGER, work_date DATE, "
    "reason_code VARCHAR, status VARCHAR, hours DECIMAL(6,2), hourly_rate DECIMAL(8,2), "
    "rate_multiplier DECIMAL(4,2), amount DECIMAL(12,2), currency VARCHAR, source_record_id VARCHAR, "
    "loaded_at TIMESTAMP",
    "fact_overtime_monthly": "employee_id VARCHAR, entity_id VARCHAR, period_id INTEGER, approved_hours DECIMAL(8,2), "
    "pending_hours DECIMAL(8,2), compensable_hours DECIMAL(8,2), amount DECIMAL(14,2), "
    "record_count INTEGER",
    "team_oversight": "entity_id VARCHAR, department VARCHAR, team VARCHAR, manager_id VARCHAR, period_id INTEGER, "
    "employees_with_overtime INTEGER, total_hours DECIMAL(10,2), avg_hours_per_employee DECIMAL(8,2), "
    "employees_over_20h INTEGER, pending_hours DECIMAL(10,2)",
    "payroll_compensation": "employee_id VARCHAR, full_name VARCHAR, entity_id VARCHAR, period_id INTEGER, "
    "currency VARCHAR, "
    "hours_x100 DECIMAL(8,2), hours_x125 DECIMAL(8,2), hours_x150 DECIMAL(8,2), "
    "hours_x200 DECIMAL(8,2), compensable_hours DECIMAL(8,2), amount_to_pay DECIMAL(14,2)",
    "overtime_analysis": "entity_id VARCHAR, department VARCHAR, period_id INTEGER, reason_category VARCHAR, "
    "hours DECIMAL(10,2), amount DECIMAL(14,2), currency VARCHAR, employee_count INTEGER, "
    "share_of_entity_hours DOUBLE",
}


def rows_failing(table: str, condition: str) -> str:
    return f"SELECT count(*) = 0, count(*) FROM {table} WHERE {condition}"


def not_null(table: str, *columns: str) -> list[tuple[str, str, str]]:
    return [(f"not_null_{c}", "error", rows_failing(table, f"{c} IS NULL")) for c in columns]


def unique(table: str, *columns: str) -> tuple[str, str, str]:
    key = ", ".join(columns)
    nulls = " AND ".join(f"{c} IS NULL" for c in columns)
    return (
        "unique_" + "_".join(columns),
        "error",
        f"SELECT coalesce(sum(n), 0) = 0, coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} "
        f"WHERE NOT ({nulls}) GROUP BY {key} HAVING count(*) > 1)",
    )


def row_count(
    table: str, low: int | None = None, high: int | None = None, name: str = "row_count", severity: str = "error"
) -> tuple[str, str, str]:
    tests = [f"count(*) >= {low}"] * (low is not None) + [f"count(*) <= {high}"] * (high is not None)
    return name, severity, f"SELECT {' AND '.join(tests)}, 0 FROM {table}"


def max_age(table: str, column: str, hours: int) -> tuple[str, str, str]:
    return (
        f"max_age_{column}",
        "error",
        f"SELECT coalesce(max({column}) >= (current_timestamp - INTERVAL {hours} HOUR)::TIMESTAMP, false), 0 "
        f"FROM {table}",
    )


def accepted(table: str, column: str, *values: str) -> tuple[str, str, str]:
    listed = ", ".join(f"'{v}'" for v in values)
    return (
        f"accepted_values_{column}",
        "error",
        rows_failing(table, f"{column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({listed})"),
    )


def in_range(
    table: str, column: str, low: float, high: float, name: str | None = None, severity: str = "error"
) -> tuple[str, str, str]:
    return name or f"range_{column}", severity, rows_failing(table, f"{column} < {low} OR {column} > {high}")


def references(table: str, column: str, parent: str, field: str) -> tuple[str, str, str]:
    return (
        f"relationships_{column}_{parent}",
        "error",
        rows_failing(
            f"{table} AS child",
            f"child.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{field} = child.{column})",
        ),
    )


def holds(table: str, name: str, expression: str) -> tuple[str, str, str]:
    return name, "error", rows_failing(table, f"NOT ({expression})")


def raw_checks(table: str, minimum: int) -> list[tuple[str, str, str]]:
    return [
        *not_null(table, "source_file", "source_row"),
        unique(table, "source_row"),
        *not_null(table, "ingested_at"),
        row_count(table, minimum),
        max_age(table, "ingested_at", 26),
    ]


REJECTION_REASONS = (
    "invalid_record_id",
    "invalid_work_date",
    "invalid_hours",
    "negative_hours",
    "zero_hours",
    "hours_above_16",
    "unknown_employee",
    "before_hire_date",
    "unknown_reason",
    "invalid_status",
    "duplicate_record",
)
FACT = "fact_overtime"
RULES = {
    "raw_entities": raw_checks("raw_entities", 1),
    "raw_employees": raw_checks("raw_employees", 100),
    "raw_overtime_reasons": raw_checks("raw_overtime_reasons", 1),
    "raw_overtime_records": raw_checks("raw_overtime_records", 1000),
    "entities": [
        *not_null("entities", "entity_id"),
        unique("entities", "entity_id"),
        *not_null("entities", "entity_name", "country", "currency", "source_row"),
        row_count("entities", 1),
        accepted("entities", "currency", "EUR", "GBP", "CHF", "USD"),
    ],
    "employees": [
        *not_null("employees", "employee_id"),
        unique("employees", "employee_id"),
        *not_null("employees", "first_name", "last_name", "email"),
        unique("employees", "email"),
        *not_null(
            "employees",
            "entity_id",
            "department",
            "team",
            "job_title",
            "hire_date",
            "hourly_rate",
            "weekly_contract_hours",
            "source_row",
        ),
        unique("employees", "source_row"),
        row_count("employees", 100),
        in_range("employees", "hourly_rate", 10, 150),
        in_range("employees", "weekly_contract_hours", 10, 48),
    ],
    "overtime_reasons": [
        *not_null("overtime_reasons", "reason_code"),
        unique("overtime_reasons", "reason_code"),
        *not_null("overtime_reasons", "label", "category", "rate_multiplier", "is_compensable", "source_row"),
        row_count("overtime_reasons", 1),
        in_range("overtime_reasons", "rate_multiplier", 0, 3),
    ],
    "overtime_records_validated": [
        *not_null("overtime_records_validated", "source_file", "source_row"),
        unique("overtime_records_validated", "source_file", "source_row"),
        row_count("overtime_records_validated", 1000),
        accepted("overtime_records_validated", "rejection_reason", *REJECTION_REASONS),
    ],
    "overtime_records": [
        *not_null("overtime_records", "record_id"),
        unique("overtime_records", "record_id"),
        *not_null(
            "overtime_records",
            "employee_id",
            "work_date",
            "hours",
            "reason_code",
            "status",
            "source_file",
            "source_row",
        ),
        row_count("overtime_records", 1000),
        in_range("overtime_records", "hours", 0, 16),
        accepted("overtime_records", "status", "approved", "pending", "rejected"),
    ],
    "overtime_rejected": [
        *not_null("overtime_rejected", "source_file", "source_row", "rejection_reason", "ingested_at"),
        unique("overtime_rejected", "source_file", "source_row"),
        row_count("overtime_rejected", high=100, name="rejected_records_stay_rare", severity="warn"),
    ],
    "dim_entity": [
        *not_null("dim_entity", "entity_id"),
        unique("dim_entity", "entity_id"),
        *not_null("dim_entity", "entity_name", "country", "currency"),
        row_count("dim_entity", 1),
    ],
    "dim_period": [
        *not_null("dim_period", "period_id"),
        unique("dim_period", "period_id"),
        *not_null("dim_period", "year", "month", "month_name", "quarter", "period_start"),
        unique("dim_period", "period_start"),
        *not_null("dim_period", "period_end"),
        unique("dim_period", "period_end"),
        *not_null("dim_period", "working_days"),
        row_count("dim_period", 1),
        in_range("dim_period", "month", 1, 12),
        in_range("dim_period", "working_days", 20, 23),
        holds(
            "dim_period",
            "period_id_matches_start",
            "period_id = year * 100 + month AND period_start = make_date(year, month, 1)",
        ),
    ],
    "dim_overtime_reason": [
        *not_null("dim_overtime_reason", "reason_code"),
        unique("dim_overtime_reason", "reason_code"),
        *not_null("dim_overtime_reason", "label", "category", "rate_multiplier", "is_compensable"),
        row_count("dim_overtime_reason", 1),
        in_range("dim_overtime_reason", "rate_multiplier", 0, 3),
        accepted("dim_overtime_reason", "category", "activity", "schedule", "training", "time_off_in_lieu"),
        holds("dim_overtime_reason", "unpaid_reasons_have_no_multiplier", "is_compensable OR rate_multiplier = 0"),
    ],
    "dim_employee": [
        *not_null("dim_employee", "employee_id"),
        unique("dim_employee", "employee_id"),
        *not_null("dim_employee", "full_name", "email"),
        unique("dim_employee", "email"),
        *not_null("dim_employee", "entity_id", "department", "team", "job_title", "hire_date", "hourly_rate"),
        row_count("dim_employee", 100),
        references("dim_employee", "entity_id", "dim_entity", "entity_id"),
        in_range("dim_employee", "hourly_rate", 10, 150),
        holds("dim_employee", "nobody_manages_themselves", "manager_id IS NULL OR manager_id <> employee_id"),
    ],
    "fact_overtime": [
        *not_null(FACT, "overtime_id"),
        unique(FACT, "overtime_id"),
        *not_null(
            FACT,
            "employee_id",
            "entity_id",
            "period_id",
            "work_date",
            "reason_code",
            "status",
            "hours",
            "hourly_rate",
            "rate_multiplier",
            "amount",
            "currency",
            "source_record_id",
        ),
        unique(FACT, "source_record_id"),
        *not_null(FACT, "loaded_at"),
        row_count(FACT, 1000),
        accepted(FACT, "status", "approved", "pending", "rejected"),
        in_range(FACT, "hours", 0, 16),
        in_range(FACT, "rate_multiplier", 0, 3),
        references(FACT, "employee_id", "dim_employee", "employee_id"),
        references(FACT, "entity_id", "dim_entity", "entity_id"),
        references(FACT, "reason_code", "dim_overtime_reason", "reason_code"),
        references(FACT, "period_id", "dim_period", "period_id"),
        max_age(FACT, "loaded_at", 26),
        holds(
            FACT,
            "amount_is_hours_times_rate_times_multiplier",
            "amount = round(hours * hourly_rate * rate_multiplier, 2)",
        ),
        holds(FACT, "period_is_month_of_work_date", "period_id = year(work_date) * 100 + month(work_date)"),
    ],
    "fact_overtime_monthly": [
        *not_null(
            "fact_overtime_monthly",
            "employee_id",
            "entity_id",
            "period_id",
            "approved_hours",
            "pending_hours",
            "compensable_hours",
            "amount",
            "record_count",
        ),
        unique("fact_overtime_monthly", "employee_id", "period_id"),
        row_count("fact_overtime_monthly", 100),
        references("fact_overtime_monthly", "employee_id", "dim_employee", "employee_id"),
        references("fact_overtime_monthly", "entity_id", "dim_entity", "entity_id"),
        references("fact_overtime_monthly", "period_id", "dim_period", "period_id"),
        holds(
            "fact_overtime_monthly",
            "compensable_within_approved",
            "compensable_hours <= approved_hours AND record_count > 0",
        ),
        in_range(
            "fact_overtime_monthly",
            "approved_hours",
            0,
            60,
            name="monthly_overtime_within_working_time_limits",
            severity="warn",
        ),
    ],
    "team_oversight": [
        *not_null(
            "team_oversight",
            "entity_id",
            "department",
            "team",
            "period_id",
            "employees_with_overtime",
            "total_hours",
            "avg_hours_per_employee",
            "employees_over_20h",
            "pending_hours",
        ),
        unique("team_oversight", "entity_id", "department", "team", "manager_id", "period_id"),
        row_count("team_oversight", 10),
        references("team_oversight", "manager_id", "dim_employee", "employee_id"),
        references("team_oversight", "entity_id", "dim_entity", "entity_id"),
        references("team_oversight", "period_id", "dim_period", "period_id"),
        holds(
            "team_oversight",
            "counts_are_consistent",
            "employees_over_20h <= employees_with_overtime AND pending_hours <= total_hours",
        ),
    ],
    "payroll_compensation": [
        *not_null(
            "payroll_compensation",
            "employee_id",
            "full_name",
            "entity_id",
            "period_id",
            "currency",
            "hours_x100",
            "hours_x125",
            "hours_x150",
            "hours_x200",
            "compensable_hours",
            "amount_to_pay",
        ),
        unique("payroll_compensation", "employee_id", "period_id"),
        row_count("payroll_compensation", 100),
        references("payroll_compensation", "employee_id", "dim_employee", "employee_id"),
        references("payroll_compensation", "period_id", "dim_period", "period_id"),
        in_range("payroll_compensation", "compensable_hours", 0, 200),
        holds(
            "payroll_compensation",
            "bands_add_up",
            "hours_x100 + hours_x125 + hours_x150 + hours_x200 = compensable_hours",
        ),
        holds("payroll_compensation", "paid_hours_are_paid", "compensable_hours > 0 AND amount_to_pay > 0"),
    ],
    "overtime_analysis": [
        *not_null(
            "overtime_analysis",
            "entity_id",
            "department",
            "period_id",
            "reason_category",
            "hours",
            "amount",
            "currency",
            "employee_count",
            "share_of_entity_hours",
        ),
        unique("overtime_analysis", "entity_id", "department", "period_id", "reason_category"),
        row_count("overtime_analysis", 100),
        references("overtime_analysis", "entity_id", "dim_entity", "entity_id"),
        references("overtime_analysis", "period_id", "dim_period", "period_id"),
        in_range("overtime_analysis", "share_of_entity_hours", 0, 1),
        accepted("overtime_analysis", "reason_category", "activity", "schedule", "training", "time_off_in_lieu"),
        # what finance's overtime_accruals expects of it (its consumer-driven contract)
        (
            "expected_by_finance__overtime_accruals__not_null_department",
            "error",
            rows_failing("overtime_analysis", "department IS NULL"),
        ),
        (
            "expected_by_finance__overtime_accruals__range_hours",
            "error",
            rows_failing("overtime_analysis", "hours < 0"),
        ),
        (
            "expected_by_finance__overtime_accruals__accepted_values_currency",
            "error",
            rows_failing("overtime_analysis", "currency IS NOT NULL AND currency NOT IN ('EUR', 'GBP', 'CHF', 'USD')"),
        ),
    ],
}


def check(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, object]]:
    """The table's schema check, then each of its rules."""
    (produced,) = con.execute(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
        "FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = $t",
        {"t": table},
    ).fetchone()
    results = [
        {"table": table, "check": "schema", "severity": "error", "passed": produced == SCHEMAS[table], "failing": 0}
    ]
    for name, severity, query in RULES[table]:
        passed, failing = con.execute(query).fetchone()
        results.append(
            {"table": table, "check": name, "severity": severity, "passed": bool(passed), "failing": int(failing)}
        )
    return results


# --------------------------------------------------------------------------------------
# Build, check, publish
# --------------------------------------------------------------------------------------


def load_extension(con: duckdb.DuckDBPyConnection, name: str, package: str) -> None:
    """LOAD an extension, installed first from its PyPI wheel (no download) when DuckDB lacks it."""
    row = con.execute(
        "SELECT installed, loaded FROM duckdb_extensions() WHERE extension_name = $n", {"n": name}
    ).fetchone()
    if row and row[1]:
        return
    if not row or not row[0]:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"install {package.replace('_', '-')}=={duckdb.__version__}")
        folder = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
        con.execute("INSTALL '" + str(sorted(folder.glob("*.duckdb_extension"))[0]).replace("'", "''") + "'")
    con.execute(f"LOAD {name}")


def attach_lake(con: duckdb.DuckDBPyConnection, lake: Path, read_only: bool = False) -> None:
    load_extension(con, "ducklake", "duckdb_extension_ducklake")
    load_extension(con, "sqlite_scanner", "duckdb_extension_sqlite")
    options = "READ_ONLY" if read_only else "DATA_INLINING_ROW_LIMIT 0"  # every port in Parquet, as published
    con.execute(f"ATTACH 'ducklake:sqlite:{lake / 'catalog.sqlite'}' AS lake (DATA_PATH '{lake / 'data'}/', {options})")


def prepare(con: duckdb.DuckDBPyConnection, sources: Path) -> None:
    """The cleaning macros, and each CSV extract as a view of the name the product's SQL reads."""
    for macro in MACROS:
        con.execute(macro)
    for name, (file, columns) in FILES.items():
        types = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT * EXCLUDE (filename), parse_filename(filename) AS source_file, row_number() OVER () AS source_row,
                   current_timestamp::TIMESTAMP AS ingested_at
            FROM read_csv('{sources / file}', header = true, columns = {{{types}}}, auto_detect = false, sep = ',',
                          quote = '"', escape = '"', strict_mode = true, filename = true)""")


def build_table(con: duckdb.DuckDBPyConnection, table: str, employees: str = "sql") -> None:
    """One table from its SQL file (or query), its dependencies already built; with `employees`
    "pandas", the employee master as the product makes it, with its own pandas function."""
    if table == "employees" and employees == "pandas":
        clean_employees = _product_function("transforms.py", "clean_employees")
        frame = clean_employees({"raw_employees": con.execute("SELECT * FROM raw_employees").df()})
        con.register("employees_frame", frame)
        casts = ", ".join(
            f"CAST({name} AS {type_}) AS {name}" for name, type_ in (c.split(maxsplit=1) for c in _columns(table))
        )
        con.execute(f"CREATE OR REPLACE TABLE employees AS SELECT {casts} FROM employees_frame")
        con.unregister("employees_frame")
        return
    source = dict(STEPS)[table]
    query = source if source.lstrip().upper().startswith("SELECT") else (SQL / source).read_text(encoding="utf-8")
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {query.strip().rstrip(';')}")


def _product_function(file: str, name: str):  # the product's own function, as it is
    spec = importlib.util.spec_from_file_location("hr_overtime_" + Path(file).stem, SQL.parent / file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _columns(table: str) -> list[str]:
    """ "name TYPE" of each column of a table's schema; types such as DECIMAL(8,2) hold commas."""
    return [c.strip() for c in re.split(r",\s*(?![^()]*\))", SCHEMAS[table])]


def build(
    con: duckdb.DuckDBPyConnection, sources: Path, employees: str = "sql"
) -> tuple[list[dict[str, object]], dict[str, object]]:
    seconds: dict[str, object] = {"build": 0.0, "checks": 0.0, "by_table": {}}
    prepare(con, sources)
    results: list[dict[str, object]] = []
    for table, _ in STEPS:
        started = time.perf_counter()
        build_table(con, table, employees)
        checked = time.perf_counter()
        seconds["build"] += checked - started
        found = check(con, table)
        seconds["checks"] += time.perf_counter() - checked
        seconds["by_table"][table] = [round(checked - started, 3), round(time.perf_counter() - checked, 3)]
        results.extend(found)
        blocking = [r["check"] for r in found if not r["passed"] and r["severity"] == "error"]
        if blocking:
            raise SystemExit(f"{table}: blocking checks failed ({', '.join(blocking)}); nothing published")
    return results, seconds


def publish(con: duckdb.DuckDBPyConnection, lake: Path, key: str) -> int:
    """Every port, and the masked copy of those with personal columns, in one commit."""
    lake.mkdir(parents=True, exist_ok=True)
    attach_lake(con, lake)
    con.execute("CREATE OR REPLACE TEMP TABLE masking_key AS SELECT $key AS key", {"key": key})
    con.execute("BEGIN TRANSACTION")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS lake.{SCHEMA}")
    for port in PORTS:
        con.execute(f"CREATE OR REPLACE TABLE lake.{SCHEMA}.{PRODUCT}__{port} AS SELECT * FROM {port}")
        if port in PERSONAL:
            columns = [
                c
                for (c,) in con.execute(
                    f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{port}' "
                    "AND database_name = current_database() ORDER BY column_index"
                ).fetchall()
            ]
            masked = ", ".join(
                f"CASE WHEN {c} IS NULL THEN NULL ELSE sha256(concat(k.key, ':', CAST({c} AS VARCHAR))) END AS {c}"
                if c in PERSONAL[port]
                else c
                for c in columns
            )
            con.execute(
                f"CREATE OR REPLACE TABLE lake.{SCHEMA}.{PRODUCT}__{port}__masked AS "
                f"SELECT {masked} FROM {port}, masking_key AS k"
            )
    con.execute("CALL lake.set_commit_message('bench', 'publish hr.overtime 1.0.0')")
    con.execute("COMMIT")
    con.execute("DROP TABLE temp.masking_key")
    return int(con.execute("SELECT id FROM lake.last_committed_snapshot()").fetchone()[0])


def lake_fingerprints(lake: Path) -> dict[str, dict[str, object]]:
    """Each table of the product in a lake: rows, and an order-free fingerprint of its columns' names,
    types and values (`loaded_at`, the load time, left out)."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        attach_lake(con, lake, read_only=True)
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' AND schema_name = $s "
                "AND starts_with(table_name, $p) ORDER BY 1",
                {"s": SCHEMA, "p": PRODUCT + "__"},
            ).fetchall()
        ]
        found = {}
        for table in tables:
            columns = con.execute(f"DESCRIBE lake.{SCHEMA}.{table}").fetchall()
            names = [f'"{c[0]}"' for c in columns if c[0] != "loaded_at"]
            schema = ", ".join(f"{c[0]} {c[1]}" for c in columns)
            rows, fingerprint = con.execute(
                f"SELECT count(*), bit_xor(hash({', '.join(names)})) FROM lake.{SCHEMA}.{table}"
            ).fetchone()
            (schema_hash,) = con.execute("SELECT hash($s)", {"s": schema}).fetchone()
            found[table.removeprefix(PRODUCT + "__")] = {
                "rows": rows,
                "fingerprint": f"{(fingerprint or 0) ^ schema_hash:016x}",
            }
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="folder of the four CSV files")
    parser.add_argument("--database", default=":memory:", help=":memory: or a DuckDB file (replaced)")
    parser.add_argument("--lake", type=Path, required=True, help="folder of the lake (catalog.sqlite, data/)")
    parser.add_argument("--no-fingerprint", action="store_true", help="skip reading the lake back")
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit (2GB, 1500MB); DuckDB's default when not given")
    parser.add_argument(
        "--employees",
        choices=("sql", "pandas"),
        default="sql",
        help="clean the employee master in SQL, or with the product's own pandas function as the product does",
    )
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    key = os.environ.get("MESH_MASKING_KEY", "").strip()
    if not key:
        raise SystemExit("set MESH_MASKING_KEY: dim_employee is published masked too")
    started = time.perf_counter()
    if arguments.database != ":memory:":
        for suffix in ("", ".wal"):
            Path(arguments.database + suffix).unlink(missing_ok=True)
    con = duckdb.connect(
        arguments.database, config={"memory_limit": arguments.memory_limit} if arguments.memory_limit else {}
    )
    con.execute("SET TimeZone = 'UTC'")
    results, seconds = build(con, arguments.sources.resolve(), arguments.employees)
    published = time.perf_counter()
    snapshot = publish(con, arguments.lake.resolve(), key)
    seconds["publish"] = time.perf_counter() - published
    tables = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name, _ in STEPS}
    con.close()
    seconds = {k: v if isinstance(v, dict) else round(v, 3) for k, v in seconds.items()}
    seconds["total"] = round(time.perf_counter() - started, 3)
    report = {
        "database": arguments.database,
        "snapshot": snapshot,
        "seconds": seconds,
        "tables": tables,
        "checks": {
            "evaluated": len(results),
            "passed": sum(bool(r["passed"]) for r in results),
            "failed": [
                f"{r['table']}.{r['check']} ({r['severity']}, {r['failing']} rows)" for r in results if not r["passed"]
            ],
        },
    }
    if not arguments.no_fingerprint:
        report["ports"] = lake_fingerprints(arguments.lake.resolve())
    if arguments.json:
        print(json.dumps(report))
    else:
        json.dump(report, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
