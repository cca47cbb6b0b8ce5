"""SQL text handling: parse checks for authored SQL, and the few statements the platform writes."""

from __future__ import annotations

import duckdb


def parse_problem(sql: str) -> str | None:
    """Why `sql` is not exactly one SELECT statement, or None. Parsing runs no query."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        return str(error).splitlines()[0]
    if len(statements) != 1:
        return f"expected exactly one SELECT statement, found {len(statements)}"
    if statements[0].type != duckdb.StatementType.SELECT:
        return f"expected a SELECT statement, found {statements[0].type.name}"
    return None
