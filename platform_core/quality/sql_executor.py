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

from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb

from platform_core.descriptors.names import quote
from platform_core.descriptors.rules import (
    AcceptedValues, Expression, MaxAge, NotNull, Range, Relationships, RowCount, Rule, Unique,
)
from platform_core.quality.results import (
    RuleResult, as_text, dataset_result, guarded, max_age_result, row_count_passes, rows_result, text_values,
)

RefResolver = Callable[[str], str]  # port name -> quoted table reference


def run_sql_rules(
    con: duckdb.DuckDBPyConnection, table: str, rules: tuple[Rule, ...], ref: RefResolver, now: datetime,
) -> list[RuleResult]:
    """Evaluate rules over `table` (an already-quoted reference) inside DuckDB."""
    total = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    return [guarded(rule, lambda rule=rule: _run_sql_rule(con, table, rule, ref, now, total, types)) for rule in rules]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    return int(con.execute(sql, params or {}).fetchall()[0][0] or 0)


def _run_sql_rule(con, table: str, rule: Rule, ref: RefResolver, now: datetime, total: int,
                  types: dict[str, str]) -> RuleResult:
    if isinstance(rule, RowCount):
        return dataset_result(rule, row_count_passes(rule, total), {"rows": total})
    if isinstance(rule, MaxAge):
        newest = con.execute(f"SELECT max({quote(rule.column)}) FROM {table}").fetchall()[0][0]
        return max_age_result(rule, newest, now)
    if isinstance(rule, NotNull):
        failing = _count(con, f"SELECT count(*) FROM {table} WHERE {quote(rule.column)} IS NULL")
    elif isinstance(rule, Unique):
        key = ", ".join(quote(c) for c in rule.columns)
        all_null = " AND ".join(f"{quote(c)} IS NULL" for c in rule.columns)
        failing = _count(con, f"SELECT sum(n) FROM (SELECT count(*) AS n FROM {table} "
                              f"WHERE NOT ({all_null}) GROUP BY {key} HAVING count(*) > 1)")
    elif isinstance(rule, AcceptedValues):
        text = as_text(quote(rule.column), types[rule.column])
        failing = _count(con, f"SELECT count(*) FROM {table} WHERE {quote(rule.column)} IS NOT NULL "
                              f"AND NOT list_contains($values, {text})",
                         {"values": text_values(rule)})
    elif isinstance(rule, Range):
        column, bounds, params = quote(rule.column), [], {}
        if rule.min is not None:
            bounds.append(f"{column} < $min")
            params["min"] = rule.min
        if rule.max is not None:
            bounds.append(f"{column} > $max")
            params["max"] = rule.max
        failing = _count(con, f"SELECT count(*) FROM {table} WHERE {' OR '.join(bounds)}", params)
    elif isinstance(rule, Relationships):
        failing = _count(con, f"SELECT count(*) FROM {table} AS child WHERE child.{quote(rule.column)} IS NOT NULL "
                              f"AND NOT EXISTS (SELECT 1 FROM {ref(rule.to)} AS parent "
                              f"WHERE parent.{quote(rule.field)} = child.{quote(rule.column)})")
    elif isinstance(rule, Expression):
        # The expression is authored SQL (like a step's SQL file), parsed when the descriptor loads.
        failing = _count(con, f"SELECT count(*) FROM {table} WHERE NOT ({rule.expression})")
    else:  # pragma: no cover - the Rule union is closed
        raise TypeError(f"no SQL executor for rule {rule!r}")
    return rows_result(rule, failing, total)


