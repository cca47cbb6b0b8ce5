"""Identifiers: validated once when descriptors load, always quoted when SQL is written."""

from __future__ import annotations

import functools
import re

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
# Columns may start with one underscore: the platform's convention for lineage columns (_source_row).
COLUMN = re.compile(r"^_?[a-z][a-z0-9_]*$")
MAX_IDENTIFIER_LENGTH = 63


@functools.cache
def reserved_sql_keywords() -> frozenset[str]:
    """DuckDB's own list of reserved words, so the rule follows the engine that runs the SQL."""
    import duckdb

    rows = duckdb.sql("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()
    return frozenset(name for (name,) in rows)


def identifier_problem(name: str, column: bool = False) -> str | None:
    """Why `name` cannot be an identifier (or, with `column`, a column name), or None when it can."""
    if not isinstance(name, str) or not (COLUMN if column else IDENTIFIER).match(name):
        start = "a letter (or _ and a letter)" if column else "a letter"
        return f"bad identifier {name!r}: use snake_case (a-z, 0-9, _), starting with {start}"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return f"bad identifier {name!r}: at most {MAX_IDENTIFIER_LENGTH} characters"
    if name in reserved_sql_keywords():
        return f"bad identifier {name!r}: it is a reserved SQL keyword"
    return None


# A domain is a DuckDB database file, attached under its own name, and a product a schema in
# it: neither may take a name DuckDB gives its own catalogs and schemas.
DUCKDB_NAMESPACES = frozenset({"main", "temp", "system", "memory", "information_schema", "pg_catalog"})
# The name the platform attaches the lake of published ports under, beside a domain's database.
LAKE_ALIAS = "lake"
# The Dagster kind of an asset kept in the lake: a port (platform_core.dagster.product). The Dagster
# UI's reader tells ports by it (platform_core.catalog.ui).
PORT_KIND = "ducklake"


def namespace_problem(name: str) -> str | None:
    """Why `name` cannot name a domain or a product, or None when it can."""
    problem = identifier_problem(name)
    if problem is None and name in DUCKDB_NAMESPACES:
        return f"bad name {name!r}: DuckDB uses it for its own catalogs and schemas"
    return problem or lake_name_problem(name)


def lake_name_problem(name: str) -> str | None:
    """Why `name` cannot name a domain or product given how the lake names things, or None."""
    if name == LAKE_ALIAS:
        return f"bad name {name!r}: the platform attaches the lake of published ports under that name"
    # A port is the lake table `<product>__<port>` in schema `<domain>`: `__` inside a domain or
    # product name, or one at its end, would let two addresses share a table.
    if "__" in name or name.endswith("_"):
        return f"bad name {name!r}: no '__' and no '_' at the end (the lake names a port <product>__<port>)"
    return None


def quote(name: str) -> str:
    """Quote an identifier for DuckDB. Names are validated on load; quoting still escapes defensively."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string (a path, an address) as a SQL literal."""
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"
