"""The check every asset has: the produced columns are the contract's, with compatible types, and
the columns declared `nullable: false` hold no null.

Nullability is part of the contract's shape, and a check of its own per column would cost Dagster
events for every one (125 of HR's 236 checks were `not_null`): each such rule runs as before and
keeps its own result, failing rows and sample, inside the schema check's result (`parts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from platform_core.descriptors.column_types import duckdb_type, type_matches
from platform_core.descriptors.names import quote
from platform_core.descriptors.rules import Rule
from platform_core.descriptors.spec import Column
from platform_core.quality.results import RuleResult

if TYPE_CHECKING:  # the checks' names and descriptions are read without DuckDB (`mesh status`)
    import duckdb

SCHEMA_CHECK_DESCRIPTION = "Produced columns and types match the contract."
COLUMNS_MATCH = "columns_match"  # observed: whether the columns and types alone match


def schema_description(nullability: tuple[Rule, ...]) -> str:
    """What a step's schema check checks, naming the columns that must hold no null."""
    if not nullability:
        return SCHEMA_CHECK_DESCRIPTION
    columns = ", ".join(c for rule in nullability for c in rule.columns_used)
    return f"{SCHEMA_CHECK_DESCRIPTION[:-1]}, and these columns hold no null: {columns}."


def schema_result(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[Column, ...]) -> RuleResult:
    """The produced columns are exactly the declared ones, with compatible types."""
    actual = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    declared = {c.name: c.type for c in columns}
    missing = sorted(set(declared) - set(actual))
    extra = sorted(set(actual) - set(declared))
    wrong = sorted(
        f"{n}: declared {declared[n]}, produced {actual[n]}"
        for n in set(declared) & set(actual)
        if not type_matches(declared[n], actual[n])
    )
    observed = {k: v for k, v in {"missing": missing, "unexpected": extra, "wrong_type": wrong}.items() if v}
    return RuleResult(
        "schema", "error", not observed, len(missing) + len(extra) + len(wrong), observed, SCHEMA_CHECK_DESCRIPTION
    )


def with_nullability(schema: RuleResult, rules: tuple[Rule, ...], results: tuple[RuleResult, ...]) -> RuleResult:
    """The schema check's result holding the results of the nullability `rules`: it passes when the
    columns match and no blocking one failed."""
    if not rules:
        return schema
    return replace(
        schema,
        passed=schema.passed and not any(r.blocking for r in results),
        observed={COLUMNS_MATCH: schema.passed, **schema.observed},
        description=schema_description(rules),
        parts=results,
    )


def cast_types(columns: tuple[Column, ...]) -> dict[str, str]:
    """The DuckDB type of each contract column, as `cast_select` takes them."""
    return {c.name: duckdb_type(c.type) for c in columns}


def cast_select(source: str, produced: list[str], types: Mapping[str, str]) -> str:
    """SELECT that casts a pandas step's output to its contract's DuckDB `types` (`cast_types`);
    unknown columns pass through."""
    parts = [
        f"CAST({quote(name)} AS {types[name]}) AS {quote(name)}" if name in types else quote(name) for name in produced
    ]
    return f"SELECT {', '.join(parts)} FROM {source}"
