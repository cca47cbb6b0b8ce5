"""Time the two contract executors on the same data: SQL inside DuckDB versus pandera on pandas.

    .venv/bin/python bench/quality_executors.py --rows 1000000

Prints seconds per executor for one contract of six rules (not_null, composite unique,
accepted_values, range, expression, row_count), and checks that both found the same
violations. Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import duckdb
from pydantic import TypeAdapter

from platform_core.descriptors.rules import Rule
from platform_core.quality.pandera_executor import run_pandera_rules
from platform_core.quality.sql_executor import run_sql_rules

RULES = tuple(
    TypeAdapter(Rule).validate_python(r)
    for r in (
        {"type": "not_null", "column": "employee_id"},
        {"type": "unique", "columns": ["employee_id", "work_date"]},
        {"type": "accepted_values", "column": "status", "values": ["approved", "pending", "rejected"]},
        {"type": "range", "column": "hours", "min": 0, "max": 16},
        {"type": "expression", "name": "amount_is_hours_times_rate", "expression": "amount = round(hours * rate, 2)"},
        {"type": "row_count", "min": 1},
    )
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE t AS
        SELECT 'E' || (i % 50000)::VARCHAR AS employee_id,
               DATE '2025-01-01' + CAST(i // 50000 AS INTEGER) AS work_date,
               (['approved', 'pending', 'rejected', 'bogus'])[1 + CAST(i % 997 = 0 AS INTEGER) * 3
                                                              + CAST(i % 3 AS INTEGER) * CAST(i % 997 <> 0 AS INTEGER)]
                   AS status,
               round((i % 40) / 2.0, 2) AS hours, 20.0 AS rate, round(((i % 40) / 2.0) * 20.0, 2) AS amount
        FROM range({rows}) AS r(i)""")
    now = datetime.now(UTC)
    start = time.perf_counter()
    sql = run_sql_rules(con, "t", RULES, lambda p: p, now)
    sql_seconds = time.perf_counter() - start
    frame = con.execute("SELECT * FROM t").df()
    start = time.perf_counter()
    pandas = run_pandera_rules(frame, RULES, lambda p, c: [], now)
    pandas_seconds = time.perf_counter() - start
    same = [(r.check_name, r.passed, r.failing_rows) for r in sql] == [
        (r.check_name, r.passed, r.failing_rows) for r in pandas
    ]
    print(
        f"rows={rows} sql_in_duckdb={sql_seconds:.2f}s pandera_on_pandas={pandas_seconds:.2f}s "
        f"ratio={pandas_seconds / sql_seconds:.1f}x same_violations={same}"
    )
    for result in sql:
        print(f"  {result.check_name}: passed={result.passed} failing_rows={result.failing_rows}")


if __name__ == "__main__":
    main()
