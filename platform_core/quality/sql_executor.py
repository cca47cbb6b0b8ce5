"""Run a contract's rules as SQL inside DuckDB, where the data already is.

Every rule compiles to one aggregate query over the table, with identifiers quoted and
values bound as parameters. The pandas executor (`pandera_executor`) implements the same
semantics; `tests/test_quality.py` holds the two to it:

- row rules count failing rows; nulls fail only `not_null`;
- `unique` counts every row of a duplicated key and ignores rows whose key is all null;
- `accepted_values` compares the text form of values;
- `row_count` and `max_age` judge the whole table and report what they observed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

import duckdb

from platform_core.descriptors.names import literal, quote
from platform_core.descriptors.rules import (
    AcceptedValues,
    Expression,
    MaxAge,
    NotNull,
    Range,
    Relationships,
    RowCount,
    Rule,
    Unique,
)
from platform_core.quality.results import (
    RuleResult,
    as_text,
    dataset_result,
    guarded,
    max_age_result,
    row_count_passes,
    rows_result,
    text_values,
)

RefResolver = Callable[[str], str]  # port name -> quoted table reference


def run_sql_rules(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rules: tuple[Rule, ...],
    ref: RefResolver,
    now: datetime,
) -> list[RuleResult]:
    """Evaluate rules over `table` (an already-quoted reference) inside DuckDB."""
    total = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    return [guarded(rule, partial(_run_sql_rule, con, table, rule, ref, now, total, types)) for rule in rules]


def _run_sql_rule(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rule: Rule,
    ref: RefResolver,
    now: datetime,
    total: int,
    types: Mapping[str, str],
) -> RuleResult:
    if isinstance(rule, RowCount):
        return dataset_result(rule, row_count_passes(rule, total), {"rows": total})
    if isinstance(rule, MaxAge):
        newest = con.execute(f"SELECT max({quote(rule.column)}) FROM {table}").fetchall()[0][0]
        return max_age_result(rule, newest, now)
    if isinstance(rule, Unique):  # counting groups is far cheaper than flagging rows
        key = ", ".join(quote(c) for c in rule.columns)
        (failing,) = con.execute(
            f"SELECT sum(n) FROM (SELECT count(*) AS n FROM {table} "
            f"WHERE NOT ({_all_null(rule)}) GROUP BY {key} HAVING count(*) > 1)"
        ).fetchall()[0]  # an aggregate: always one row
    else:
        (failing,) = failing_rows(con, table, rule, ref, types).aggregate("count(*)").fetchall()[0]
    return rows_result(rule, int(failing or 0), total)


def failing_rows(
    con: duckdb.DuckDBPyConnection, table: str, rule: Rule, ref: RefResolver, types: Mapping[str, str]
) -> duckdb.DuckDBPyRelation:
    """The rows of `table` that break a row rule: what the rule counts, and what a sample shows."""
    rows = con.sql(f"SELECT * FROM {table}")
    if isinstance(rule, Expression):
        # The expression is one SQL expression, parsed as such: never pasted into a statement.
        return rows.filter(~duckdb.SQLExpression(rule.expression))
    if isinstance(rule, Unique):
        key = ", ".join(quote(c) for c in rule.columns)
        return con.sql(
            f"SELECT * EXCLUDE (__copies) FROM (SELECT *, count(*) OVER (PARTITION BY {key}) AS __copies "
            f"FROM {table} WHERE NOT ({_all_null(rule)})) WHERE __copies > 1 ORDER BY {key}"
        )
    return con.sql(f"SELECT * FROM {table} AS child WHERE {failing_condition(rule, ref, types)}")


def failing_condition(rule: Rule, ref: RefResolver, types: Mapping[str, str]) -> str:
    """The WHERE condition that a failing row of `child` meets: identifiers quoted, values as
    literals. Not bound as parameters: binding any Python value makes DuckDB import pandas, a
    quarter of a second of a run that has no pandas step."""
    # every rule left here is about one column: failing_rows and _run_sql_rule take the others
    assert not isinstance(rule, Unique | RowCount | Expression), rule
    column = f"child.{quote(rule.column)}"
    if isinstance(rule, NotNull):
        return f"{column} IS NULL"
    if isinstance(rule, AcceptedValues):
        values = f"[{', '.join(literal(v) for v in text_values(rule))}]::VARCHAR[]"
        return f"{column} IS NOT NULL AND NOT list_contains({values}, {as_text(column, types[rule.column])})"
    if isinstance(rule, Range):
        tests = [f"{column} {op} {number(v)}" for op, v in (("<", rule.min), (">", rule.max)) if v is not None]
        return " OR ".join(tests)
    if isinstance(rule, Relationships):
        return (
            f"{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {ref(rule.to)} AS parent "
            f"WHERE parent.{quote(rule.field)} = {column})"
        )
    raise TypeError(f"no SQL executor for rule {rule!r}")  # pragma: no cover - the Rule union is closed


def number(value: float) -> str:
    """A finite number as a SQL literal of the type binding it would give: BIGINT or DOUBLE."""
    return str(value) if isinstance(value, int) else f"CAST({value!r} AS DOUBLE)"


def _all_null(rule: Unique) -> str:
    return " AND ".join(f"{quote(c)} IS NULL" for c in rule.columns)
