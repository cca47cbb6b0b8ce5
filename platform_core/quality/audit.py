"""Audit a table against its step's contract: the schema check, then every rule, with the
step's own executor (SQL steps in DuckDB, pandas steps through pandera)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import Step
from platform_core.quality.pandera_executor import run_pandera_rules
from platform_core.quality.results import RuleResult
from platform_core.quality.schema_check import schema_result
from platform_core.quality.sql_executor import RefResolver, run_sql_rules


def audit(con: duckdb.DuckDBPyConnection, table: str, step: Step, ref: RefResolver, now: datetime,
          ) -> tuple[RuleResult, ...]:
    """Results for `table` (quoted), the schema check first; `ref` names the table of a port a
    `relationships` rule points at."""
    schema = schema_result(con, table, step.columns)
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    runnable = tuple(r for r in step.rules if set(r.columns_used) <= set(types))
    missing = tuple(
        RuleResult(r.check_name, r.severity, False, 0,
                   {"error": "column not produced: " + ", ".join(sorted(set(r.columns_used) - set(types)))})
        for r in step.rules if r not in runnable
    )
    if step.engine == "sql":
        results = run_sql_rules(con, table, runnable, ref, now)
    else:
        def ref_values(port: str, column: str) -> list:
            rows = con.execute(f"SELECT DISTINCT {quote(column)} FROM {ref(port)}").fetchall()
            return [value for (value,) in rows]

        results = run_pandera_rules(con.sql(f"SELECT * FROM {table}").df(), runnable, ref_values, now, types)
    return (schema, *results, *missing)
