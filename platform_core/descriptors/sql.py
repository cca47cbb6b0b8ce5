"""Authored SQL, judged from DuckDB's parse tree before anything runs.

A step's SQL is one SELECT that reads only the tables its step declares and calls no table
function that reaches outside them (`read_csv`, `glob`, `query_table`, ...). A rule's
expression is one SQL expression, parsed as such (never pasted into a statement), with no
subquery. The same rules hold again at run time, where DuckDB's external access is closed
(platform_core.storage.sandbox); this is where a team learns of a mistake, with its file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from platform_core.descriptors.names import quote

if TYPE_CHECKING:  # DuckDB is imported where SQL is parsed: a mesh read from the cache needs none of it
    import duckdb

# Table functions that only compute: everything else reads files, URLs, settings or other tables.
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")  # names compared in lower case
# Scalar functions that read the process's environment or configuration.
UNSAFE_FUNCTIONS = frozenset({"getenv", "current_setting"})


@dataclass
class Reads:
    """What a parsed query reaches: tables by plain name, tables named with a schema, functions."""

    tables: set[str] = field(default_factory=set)
    qualified: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # the query's own names: its CTEs
    table_functions: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    subqueries: int = 0

    def outside_problem(self) -> str | None:
        """Why the query reaches beyond its declared inputs through functions, or None."""
        escaping = sorted(self.table_functions - SAFE_TABLE_FUNCTIONS) + sorted(self.functions & UNSAFE_FUNCTIONS)
        if escaping:
            return (
                f"calls {', '.join(escaping)}, which can reach files, URLs, settings or tables the step does "
                "not declare; declare inputs in the descriptor and read them by name"
            )
        return None


def parse_problem(sql: str) -> str | None:
    """Why `sql` is not exactly one SELECT statement, or None. Parsing runs no query."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        return str(error).splitlines()[0]
    if len(statements) != 1:
        return f"expected exactly one SELECT statement, found {len(statements)}"
    if statements[0].type != duckdb.StatementType.SELECT:
        return f"expected a SELECT statement, found {statements[0].type.name}"
    return None


def parse_tree(sql: str) -> Reads:
    """What a SELECT reads, from DuckDB's parse tree (nothing is bound or run). A name that a
    CTE of the query defines, where that CTE is in scope, is the query's own, not a table."""
    with scratch_cursor() as con:
        # a literal, not a parameter: binding a Python value makes DuckDB import pandas (0.3-0.8 s),
        # which every command that loads descriptors would pay
        quoted = "'" + sql.replace("'", "''") + "'"
        tree = json.loads(con.execute(f"SELECT json_serialize_sql({quoted})").fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(tree.get("error_message", "cannot parse"))
    reads = Reads()

    def walk(node: object, scope: frozenset[str]) -> None:
        if isinstance(node, list):
            for value in node:
                walk(value, scope)
            return
        if not isinstance(node, dict):
            return
        scope = with_ctes(node, scope)
        kind = node.get("type")
        if kind == "BASE_TABLE":
            schema = ".".join(part for part in (node.get("catalog_name"), node.get("schema_name")) if part)
            name = str(node["table_name"])
            if schema:
                reads.qualified.add(f"{schema}.{name}")
            elif name.lower() not in scope:
                reads.tables.add(name.lower())
        elif kind == "TABLE_FUNCTION":
            reads.table_functions.add(str((node.get("function") or {}).get("function_name", "")).lower())
        elif kind == "SHOW_REF":
            reads.table_functions.add("show/describe/summarize")
        elif kind == "SUBQUERY":
            reads.subqueries += 1
        if node.get("class") == "FUNCTION" and "function_name" in node:
            reads.functions.add(str(node["function_name"]).lower())
        for key, value in node.items():
            if key != "cte_map":
                walk(value, scope)

    def with_ctes(node: dict, scope: frozenset[str]) -> frozenset[str]:
        """Walk the node's CTEs, each seeing those before it (and itself when recursive); the
        scope the rest of the node sees."""
        for entry in (node.get("cte_map") or {}).get("map", []):
            name, body = str(entry["key"]).lower(), entry["value"]["query"]
            recursive = (body.get("node") or {}).get("type") == "RECURSIVE_CTE_NODE"
            walk(body, scope | {name} if recursive else scope)
            reads.names.add(name)
            scope = scope | {name}
        return scope

    walk(tree, frozenset())
    return reads


def undeclared_reads_problem(sql: str, depends_on: tuple[str, ...]) -> str | None:
    """Why `sql` reads a table its step does not declare, or reaches outside through a function,
    or None. The platform orders steps and draws lineage from `depends_on`, so a table read but
    not declared would also run out of order."""
    try:
        reads = parse_tree(sql)
    except Exception as error:  # noqa: BLE001 - reported as the file's problem, never a crash of the loader
        return f"cannot list the tables it reads: {error}"
    if reads.qualified:
        return (
            f"reads {', '.join(sorted(reads.qualified))} by schema; read tables by their name and list them in "
            "depends_on"
        )
    odd = sorted(name for name in reads.tables | reads.names if not IDENTIFIER.fullmatch(name))
    if odd:  # a path or URL in quotes would be read as a file by DuckDB
        return f"reads {', '.join(repr(n) for n in odd)} as a table: tables and CTEs are named like identifiers"
    undeclared = sorted(reads.tables - {name.lower() for name in depends_on})
    if undeclared:
        return (
            f"reads {', '.join(undeclared)}, not in depends_on ({', '.join(depends_on) or 'empty'}); "
            "list every table the SQL reads there"
        )
    return reads.outside_problem()


def expression_problem(expression: str) -> str | None:
    """Why `expression` is not one SQL row expression over the table's own columns, or None."""
    import duckdb

    try:
        parsed = duckdb.SQLExpression(expression)
    except duckdb.Error as error:
        return f"not one SQL expression: {str(error).splitlines()[0]}"
    try:
        reads = parse_tree(f"SELECT {parsed}")  # the parser's own rendering of the one expression
    except Exception as error:  # noqa: BLE001 - reported as the rule's problem
        return f"cannot be analysed: {error}"
    if reads.subqueries or reads.tables or reads.qualified:
        return "reads a table (a subquery); an expression may use only the columns of the row it checks"
    return reads.outside_problem()


def bind_problem(condition: str, columns: Mapping[str, str]) -> str | None:
    """Why a row condition does not bind against a table of `columns` (name -> DuckDB type), or
    None. The table is empty and in memory: unknown columns and type mismatches show, no data is read."""
    import duckdb

    with scratch_cursor() as con:
        try:
            con.execute(f"CREATE TEMP TABLE t ({', '.join(f'{quote(n)} {kind}' for n, kind in columns.items())})")
            con.table("t").filter(duckdb.SQLExpression(condition)).count("*").fetchall()
        except duckdb.Error as error:
            return str(error).split("\n\nLINE")[0].replace("\n", " ")
    return None


@contextmanager
def scratch_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own to one shared, empty in-memory database, for checks that need
    DuckDB but no data of the warehouse. Opening a database costs far more than a cursor, and
    a cursor's temporary tables and registered frames are its own, so threads never meet.
    The database reaches no file, URL or setting: what runs there is authored SQL."""
    con = _scratch().cursor()
    try:
        yield con
    finally:
        con.close()


@functools.cache
def _scratch() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(config={"enable_external_access": False})
    con.execute("SET lock_configuration = true")
    return con
