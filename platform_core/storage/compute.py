"""A domain's compute database: where its steps run, one writer at a time.

One DuckDB file per domain (`<root>/compute/<domain>.duckdb`), one schema per product.
Only that domain's runs open it, one product at a time (the `duckdb_<domain>` concurrency
pool), because DuckDB lets a single process write a file. A run stages every step it
builds as `<product>._staging_<step>`; only when the whole product passed its audit do
the staged tables replace the live ones, together, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import duckdb

from platform_core.descriptors.names import literal, qualified, quote

STAGING_PREFIX = "_staging_"


def staging_name(table: str) -> str:
    return f"{STAGING_PREFIX}{table}"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = (
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = {literal(schema)} AND table_name = {literal(table)}"
    )
    return con.execute(query).fetchall()[0][0] > 0


def promote(con: duckdb.DuckDBPyConnection, schema: str, tables: Iterable[str], dropped: Iterable[str] = ()) -> None:
    """Replace each live table with its audited staging table, and drop the live tables `dropped`
    (steps no longer kept: ephemeral now), all in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in dropped:
            con.execute(f"DROP TABLE IF EXISTS {qualified(schema, table)}")
        for table in tables:
            con.execute(f"DROP TABLE IF EXISTS {qualified(schema, table)}")
            con.execute(f"ALTER TABLE {qualified(schema, staging_name(table))} RENAME TO {quote(table)}")
        con.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):  # a failed COMMIT has ended the transaction already
            con.execute("ROLLBACK")
        raise


def leftover_staging(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Tables a run staged in `schema` and never promoted nor dropped: its process died."""
    query = (
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = {literal(schema)} AND starts_with(table_name, {literal(STAGING_PREFIX)})"
    )
    return [name.removeprefix(STAGING_PREFIX) for (name,) in con.execute(query).fetchall()]


def drop_staging(con: duckdb.DuckDBPyConnection, schema: str, tables: Iterable[str]) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {qualified(schema, staging_name(table))}")
