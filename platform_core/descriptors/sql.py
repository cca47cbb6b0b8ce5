"""SQL text handling: parse checks for authored SQL, and the few statements the platform writes."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb

from platform_core.descriptors.names import quote


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


def tables_read(sql: str) -> tuple[set[str], set[str]]:
    """The tables a SELECT reads, from DuckDB's parse tree (nothing is bound or run): plain
    names, and schema-qualified ones. Names of the query's own CTEs are left out."""
    with scratch_cursor() as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(tree.get("error_message", "cannot parse"))
    tables: list[tuple[str, str]] = []
    ctes: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                schema = ".".join(part for part in (node.get("catalog_name"), node.get("schema_name")) if part)
                tables.append((schema, node["table_name"]))
            ctes.update(entry["key"] for entry in (node.get("cte_map") or {}).get("map", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    # DuckDB matches names whatever their case
    ctes = {name.lower() for name in ctes}
    plain = {name.lower() for schema, name in tables if not schema and name.lower() not in ctes}
    return plain, {f"{schema}.{name}" for schema, name in tables if schema}


def undeclared_reads_problem(sql: str, depends_on: tuple[str, ...]) -> str | None:
    """Why `sql` reads a table its step does not declare, or None. The platform orders steps and
    draws lineage from `depends_on`, so a table read but not declared would run out of order."""
    try:
        plain, qualified = tables_read(sql)
    except Exception as error:  # noqa: BLE001 - reported as the file's problem, never a crash of the loader
        return f"cannot list the tables it reads: {error}"
    if qualified:
        return f"reads {', '.join(sorted(qualified))} by schema; read tables by their name and list them in depends_on"
    undeclared = sorted(plain - {name.lower() for name in depends_on})
    if undeclared:
        return (f"reads {', '.join(undeclared)}, not in depends_on ({', '.join(depends_on) or 'empty'}); "
                "list every table the SQL reads there")
    return None


def bind_problem(condition: str, columns: Mapping[str, str]) -> str | None:
    """Why a row condition does not bind against a table of `columns` (name -> DuckDB type), or
    None. The table is empty and in memory: unknown columns and type mismatches show, no data is read."""
    with scratch_cursor() as con:
        try:
            con.execute(f"CREATE TEMP TABLE t ({', '.join(f'{quote(n)} {kind}' for n, kind in columns.items())})")
            con.execute(f"SELECT count(*) FROM t WHERE NOT ({condition})")
        except duckdb.Error as error:
            return str(error).split("\n\nLINE")[0].replace("\n", " ")
    return None


@contextmanager
def scratch_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own to one shared, empty in-memory database, for checks that need
    DuckDB but no data of the warehouse. Opening a database costs far more than a cursor, and
    a cursor's temporary tables and registered frames are its own, so threads never meet."""
    con = _scratch().cursor()
    try:
        yield con
    finally:
        con.close()


@functools.cache
def _scratch() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()
