"""Audit a table against its step's contract: the schema check, then every rule, with the
step's own executor (SQL steps in DuckDB, pandas steps through pandera).

A rule that fails on rows carries a sample of them, so its owner sees in the UI what broke
without querying data that a failed run has dropped: a few rows, showing the rule's columns
and what identifies a row (its source line, its key), with personal data masked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb

from platform_core.descriptors.names import quote
from platform_core.descriptors.rules import Expression, MaxAge, RowCount, Rule
from platform_core.descriptors.spec import Column, Port, Product, Step
from platform_core.quality.results import RuleResult
from platform_core.quality.schema_check import schema_result, with_nullability
from platform_core.quality.sql_executor import RefResolver, failing_rows, run_sql_rules

SAMPLE_ROWS = 5
MASK = "***"
MASKED_CLASSIFICATIONS = frozenset({"personal"})
IDENTIFYING = ("source_file", "source_row")  # the lineage columns a raw row carries from bronze on


def audit(
    con: duckdb.DuckDBPyConnection,
    table: str,
    step: Step,
    ref: RefResolver,
    now: datetime,
    masked: frozenset[str] = frozenset(),
    checked: Sequence[RuleResult] | None = None,
) -> tuple[RuleResult, ...]:
    """Results for `table` (quoted), the schema check first, holding the step's nullability rules;
    `ref` names the table of a port a `relationships` rule points at; columns named in `masked`
    never show in a sample. A pandas step's rules come `checked` when the step's own process ran
    them (platform_core.execution.isolation), over the same data, before the run staged it."""
    schema = schema_result(con, table, step.columns)
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    rules = runnable(step.rules, types)
    missing = tuple(
        RuleResult(
            r.check_name,
            r.severity,
            False,
            0,
            {"error": "column not produced: " + ", ".join(sorted(set(r.columns_used) - set(types)))},
        )
        for r in step.rules
        if r not in rules
    )
    if step.engine == "sql":
        results = run_sql_rules(con, table, rules, ref, now)
    elif checked is not None:
        results = list(checked)
        assert [r.check_name for r in results] == [r.check_name for r in rules], step.name  # the same data
    else:

        def ref_values(port: str, column: str) -> list:
            rows = con.execute(f"SELECT DISTINCT {quote(column)} FROM {ref(port)}").fetchall()
            return [value for (value,) in rows]

        # pandas and pandera only for steps that declare them: a location's load never imports them
        from platform_core.quality.pandera_executor import run_pandera_rules

        results = run_pandera_rules(con.sql(f"SELECT * FROM {table}").df(), rules, ref_values, now, types)
    named = {rule.check_name: rule for rule in rules}
    sampled = [with_sample(con, table, step, named[r.check_name], r, ref, types, masked) for r in results]
    folded = {rule.check_name for rule in step.nullability}
    every = (*sampled, *missing)
    return (
        with_nullability(schema, step.nullability, tuple(r for r in every if r.check_name in folded)),
        *(r for r in every if r.check_name not in folded),
    )


def runnable(rules: Sequence[Rule], types: Mapping[str, str]) -> tuple[Rule, ...]:
    """The rules whose columns the step produced (`types`: its columns); the others fail as missing."""
    return tuple(r for r in rules if set(r.columns_used) <= set(types))


def with_sample(
    con: duckdb.DuckDBPyConnection,
    table: str,
    step: Step,
    rule: Rule,
    result: RuleResult,
    ref: RefResolver,
    types: dict[str, str],
    masked: frozenset[str],
) -> RuleResult:
    """The result with a sample of its failing rows, when it failed on rows."""
    if result.passed or not result.failing_rows or isinstance(rule, RowCount | MaxAge):
        return result
    shown = sample_columns(step, rule, types)
    try:
        columns = ", ".join(quote(c) for c in shown)  # in their order, so the same data shows the same sample
        rows = failing_rows(con, table, rule, ref, types).project(columns).order(columns).limit(SAMPLE_ROWS).fetchall()
    except duckdb.Error:  # the count stands; a sample is a courtesy
        return result
    sample = [
        {c: MASK if c in masked and v is not None else _plain(v) for c, v in zip(shown, row, strict=True)}
        for row in rows
    ]
    return RuleResult(
        result.check_name,
        result.severity,
        result.passed,
        result.failing_rows,
        {**result.observed, "sample": sample},
        result.description,
    )


def sample_columns(step: Step, rule: Rule, types: dict[str, str]) -> list[str]:
    """What a sample row shows: where the row came from, its key, then what the rule looked at."""
    key = [c.name for c in step.columns if c.unique][:1]
    wanted = [
        *IDENTIFYING,
        *key,
        *rule.columns_used,
        *(_named(rule.expression) if isinstance(rule, Expression) else ()),
    ]
    return [c for i, c in enumerate(wanted) if c in types and c not in wanted[:i]]


def _named(expression: str) -> list[str]:
    """The columns an expression rule names, so that its failing rows show them."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expression, dialect="duckdb")
    except sqlglot.errors.ParseError:
        return []
    return list(dict.fromkeys(column.name for column in tree.find_all(exp.Column)))


def masked_columns(product: Product) -> frozenset[str]:
    """Columns a sample never shows: those classified personal in any step or port of the product. A
    name personal in a published port is personal in the bronze and silver steps it comes from too,
    where nobody classified it."""

    def level(step: Step, column: Column) -> str | None:
        return step.column_classification(column) if isinstance(step, Port) else column.classification

    return frozenset(
        c.name for _, step in product.steps for c in step.columns if level(step, c) in MASKED_CLASSIFICATIONS
    )


def _plain(value: object) -> object:
    """A value as JSON carries it: numbers and text as they are, anything else as DuckDB's text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
