"""Run a contract's rules as pandera schemas over a pandas DataFrame.

Same semantics as the SQL executor (`platform_core.quality.sql_executor`). Each rule becomes its own
small schema validated lazily, so one rule's failure cases never hide another's and the
failing row count is simply the number of distinct rows pandera reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import pandas as pd

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
from platform_core.descriptors.sql import scratch_cursor
from platform_core.quality.pandera_loaded import pa
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

ValuesResolver = Callable[[str, str], list[Any]]  # (port, column) -> values present in that port


def run_pandera_rules(
    df: pd.DataFrame,
    rules: tuple[Rule, ...],
    ref_values: ValuesResolver,
    now: datetime,
    types: Mapping[str, str] | None = None,
) -> list[RuleResult]:
    """`types` are the DuckDB types of the columns when the frame was read from DuckDB (as a
    step's staged output is): pandas cannot tell a DATE from a TIMESTAMP, and accepted_values
    compares the text DuckDB would print for the declared type."""
    return [guarded(rule, partial(_run_rule, df, rule, ref_values, now, types or {})) for rule in rules]


def _run_rule(
    df: pd.DataFrame, rule: Rule, ref_values: ValuesResolver, now: datetime, types: Mapping[str, str]
) -> RuleResult:
    if isinstance(rule, RowCount):
        passed = _failure_cases(_row_count_schema(rule), df) is None
        return dataset_result(rule, passed, {"rows": len(df)})
    if isinstance(rule, MaxAge):
        newest = pd.to_datetime(df[rule.column]).max() if len(df) else None
        return max_age_result(rule, newest, now)
    failures = _failure_cases(schema_for(rule, ref_values, types), df)
    if failures is None:
        return rows_result(rule, 0, len(df))
    unplaced = failures[failures["index"].isna()]
    if len(unplaced):
        # A failure tied to no row is pandera reporting that the check itself could not run
        # (it catches the error and reports it as a failure case); never count that as a pass.
        raise RuntimeError(f"pandera could not evaluate the rule: {unplaced['failure_case'].iloc[0]}")
    return rows_result(rule, int(failures["index"].nunique()), len(df))


def _row_count_schema(rule: RowCount) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(checks=pa.Check(lambda d: row_count_passes(rule, len(d)), name=rule.check_name))


def schema_for(rule: Rule, ref_values: ValuesResolver, types: Mapping[str, str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema that enforces one row-level rule."""
    name = rule.check_name
    if isinstance(rule, NotNull):
        return pa.DataFrameSchema({rule.column: pa.Column(nullable=False)})
    if isinstance(rule, Unique):
        if len(rule.columns) == 1:
            return pa.DataFrameSchema({rule.columns[0]: pa.Column(nullable=True, unique=True)})
        return pa.DataFrameSchema(unique=list(rule.columns))
    if isinstance(rule, AcceptedValues):
        allowed = set(text_values(rule))
        declared = (types or {}).get(rule.column)
        check = pa.Check(lambda s: duckdb_text(s, declared).isin(allowed), name=name)
    elif isinstance(rule, Range):
        low = -float("inf") if rule.min is None else rule.min
        high = float("inf") if rule.max is None else rule.max
        check = pa.Check(lambda s: (s >= low) & (s <= high), name=name)
    elif isinstance(rule, Relationships):
        parents = set(ref_values(rule.to, rule.field))
        check = pa.Check(lambda s: s.isin(parents), name=name)
    elif isinstance(rule, Expression):
        return pa.DataFrameSchema(checks=pa.Check(lambda d: expression_holds(d, rule.expression), name=name))
    else:  # pragma: no cover - the Rule union is closed
        raise TypeError(f"no pandera executor for rule {rule!r}")
    return pa.DataFrameSchema({rule.column: pa.Column(nullable=True, checks=check)})


def duckdb_text(series: pd.Series, duckdb_type: str | None) -> pd.Series:
    """Each value as DuckDB prints it for its type (`true`, `2026-01-01`, `7` for 7.0), which is
    what the SQL executor compares: the same expression serves both executors."""
    with scratch_cursor() as con:
        con.register("frame", pd.DataFrame({"v": series.reset_index(drop=True)}))
        if duckdb_type is None:  # a frame of pandas' own: DuckDB's reading of its dtype
            duckdb_type = con.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'frame'"
            ).fetchall()[0][0]
        rows = con.execute(
            f"SELECT {as_text('v', duckdb_type)} FROM (SELECT CAST(v AS {duckdb_type}) AS v FROM frame)"
        ).fetchall()
    return pd.Series([text for (text,) in rows], index=series.index, dtype=object)


def expression_holds(df: pd.DataFrame, expression: str) -> pd.Series:
    """Evaluate a SQL row expression over a DataFrame with DuckDB; NULL counts as satisfied, as in SQL checks."""
    with scratch_cursor() as con:
        con.register("t", df.reset_index(drop=True).assign(__row=range(len(df))))
        bad = con.table("t").filter(~duckdb.SQLExpression(expression)).project("__row").fetchall()
    holds = pd.Series(True, index=df.index)
    holds.iloc[[row for (row,) in bad]] = False
    return holds


def _failure_cases(schema: pa.DataFrameSchema, df: pd.DataFrame) -> pd.DataFrame | None:
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return None
