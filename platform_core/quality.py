"""Run a contract's rules as SQL inside DuckDB, where the data already is.

Every rule compiles to one aggregate query over the table, with identifiers quoted and
values bound as parameters. The pandas executor (`quality_pandera`) implements the same
semantics; `tests/test_quality.py` holds the two to it:

- row rules count failing rows; nulls fail only `not_null`;
- `unique` counts every row of a duplicated key and ignores rows whose key is all null;
- `accepted_values` compares the text form of values;
- `row_count` and `max_age` judge the whole table and report what they observed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import duckdb

from platform_core.names import quote
from platform_core.rules import (
    AcceptedValues, Expression, MaxAge, NotNull, Range, Relationships, RowCount, Rule, Unique,
)
from platform_core.spec import Column

DUCKDB_TYPES = {
    "string": {"VARCHAR"},
    "integer": {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"},
    "double": {"DOUBLE", "FLOAT"},
    "boolean": {"BOOLEAN"},
    "date": {"DATE"},
    "timestamp": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"},
}
# The type a pandas step's output is cast to, so both engines publish the contract's types.
CAST_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP", "decimal": "DECIMAL(18,2)"}


def duckdb_type(logical: str) -> str:
    """The DuckDB type a contract's logical column type is stored as."""
    return CAST_TYPES.get(logical) or logical.upper()


@dataclass(frozen=True)
class RuleResult:
    check_name: str
    severity: str
    passed: bool
    failing_rows: int = 0
    observed: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"


def describe(rule: Rule) -> str:
    """The rule's own description, or the meaning half of its class docstring (after the usage example)."""
    return rule.description or (type(rule).__doc__ or "").split("`: ", 1)[-1].strip()


def dataset_result(rule: Rule, passed: bool, observed: dict[str, Any]) -> RuleResult:
    return RuleResult(rule.check_name, rule.severity, passed, 0, observed, describe(rule))


def rows_result(rule: Rule, failing: int, total: int) -> RuleResult:
    return RuleResult(rule.check_name, rule.severity, failing == 0, failing, {"rows": total}, describe(rule))


def guarded(rule: Rule, evaluate: Callable[[], RuleResult]) -> RuleResult:
    """Evaluate one rule; a rule that cannot be evaluated fails and says why, rather than
    failing the whole step and hiding every other check's result."""
    try:
        return evaluate()
    except Exception as error:  # noqa: BLE001 - any engine error is this rule's failure, reported
        message = (str(error).splitlines() or [""])[0]
        return dataset_result(rule, False, {"error": f"{type(error).__name__}: {message}"})


def row_count_passes(rule: RowCount, count: int) -> bool:
    return (rule.min is None or count >= rule.min) and (rule.max is None or count <= rule.max)


def max_age_result(rule: MaxAge, newest: Any, now: datetime) -> RuleResult:
    if newest is None or newest != newest:  # None or NaT/NaN
        return dataset_result(rule, False, {"newest": None, "max_age": str(rule.max_age)})
    if isinstance(newest, date) and not isinstance(newest, datetime):
        newest = datetime(newest.year, newest.month, newest.day)
    newest = newest.to_pydatetime() if hasattr(newest, "to_pydatetime") else newest
    if newest.tzinfo is None:  # naive timestamps are stored in UTC by convention
        newest = newest.replace(tzinfo=timezone.utc)
    age = now - newest
    return dataset_result(rule, age <= rule.max_age, {"newest": newest.isoformat(), "age_hours": round(age.total_seconds() / 3600, 2)})


def text_values(rule: AcceptedValues) -> list[str]:
    """The accepted values as DuckDB prints them (`true`, not Python's `True`)."""
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in rule.values]


# --- SQL executor -----------------------------------------------------------------------

RefResolver = Callable[[str], str]  # port name -> quoted table reference


def run_sql_rules(
    con: duckdb.DuckDBPyConnection, table: str, rules: tuple[Rule, ...], ref: RefResolver, now: datetime,
) -> list[RuleResult]:
    """Evaluate rules over `table` (an already-quoted reference) inside DuckDB."""
    total = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    return [guarded(rule, lambda rule=rule: _run_sql_rule(con, table, rule, ref, now, total, types)) for rule in rules]


def as_text(column: str, duckdb_type: str) -> str:
    """Text form of a value as accepted_values compares it; 7.0 in a float column reads as 7."""
    if duckdb_type in DUCKDB_TYPES["double"]:
        return (f"CASE WHEN isfinite({column}) AND {column} = trunc({column}) "
                f"THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST({column} AS VARCHAR) END")
    return f"CAST({column} AS VARCHAR)"


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


# --- the schema check every asset has -------------------------------------------------------

SCHEMA_CHECK_DESCRIPTION = "Produced columns and types match the contract."


def type_matches(logical: str, duckdb_type: str) -> bool:
    if logical.startswith("decimal"):
        return duckdb_type.startswith("DECIMAL") and (logical == "decimal" or duckdb_type == logical.upper())
    return duckdb_type in DUCKDB_TYPES[logical]


def schema_result(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[Column, ...]) -> RuleResult:
    """The produced columns are exactly the declared ones, with compatible types."""
    actual = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    declared = {c.name: c.type for c in columns}
    missing = sorted(set(declared) - set(actual))
    extra = sorted(set(actual) - set(declared))
    wrong = sorted(f"{n}: declared {declared[n]}, produced {actual[n]}"
                   for n in set(declared) & set(actual) if not type_matches(declared[n], actual[n]))
    observed = {k: v for k, v in {"missing": missing, "unexpected": extra, "wrong_type": wrong}.items() if v}
    return RuleResult("schema", "error", not observed, len(missing) + len(extra) + len(wrong), observed,
                      SCHEMA_CHECK_DESCRIPTION)


def cast_select(source: str, produced: list[str], columns: tuple[Column, ...]) -> str:
    """SELECT that casts a pandas step's output to its contract types; unknown columns pass through."""
    declared = {c.name: c.type for c in columns}
    parts = []
    for name in produced:
        logical = declared.get(name)
        if logical is None:
            parts.append(quote(name))
        else:
            parts.append(f"CAST({quote(name)} AS {duckdb_type(logical)}) AS {quote(name)}")
    return f"SELECT {', '.join(parts)} FROM {source}"
