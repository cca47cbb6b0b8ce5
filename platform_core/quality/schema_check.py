"""The check every asset has: the produced columns are the contract's, with compatible types."""

from __future__ import annotations

import duckdb

from platform_core.descriptors.column_types import duckdb_type, type_matches
from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import Column
from platform_core.quality.results import RuleResult

SCHEMA_CHECK_DESCRIPTION = "Produced columns and types match the contract."


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
