"""SQL text handling: parse checks for authored SQL, and the few statements the platform writes."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from platform_core.names import quote


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


def bind_problem(condition: str, columns: Mapping[str, str]) -> str | None:
    """Why a row condition does not bind against a table of `columns` (name -> DuckDB type), or
    None. The table is empty and in memory: unknown columns and type mismatches show, no data is read."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t ({', '.join(f'{quote(name)} {kind}' for name, kind in columns.items())})")
        con.execute(f"SELECT count(*) FROM t WHERE NOT ({condition})")
    except duckdb.Error as error:
        return str(error).split("\n\nLINE")[0].replace("\n", " ")
    finally:
        con.close()
    return None
