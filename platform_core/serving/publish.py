"""Serving a product: its last published version, from the lake into PostgreSQL, product-atomically.

The lake is the system of record and is written first; serving follows it. Serving a version
has two phases:

1. Load. Each served port of the version (and the masked copy of each with personal columns) is
   copied from the lake snapshot into a table of its own in `mesh_data`, named for the port and
   the snapshot. Nobody reads these tables yet; a run killed here leaves only tables that the
   next serving removes.
2. Switch. One transaction replaces the views people query (`<domain>.<port>`) so that they read
   the new tables, with their descriptions as comments, the grants, row filters and the record of
   what is served. Either every port of the product reads the new version, or none does: a
   statement sees one whole product version, never new dimensions beside old facts.

Which version is served is decided anew each time: the product's last publication in the lake.
So a run whose serving failed (the database down, a lock held too long) fails saying so, the lake
keeps the new version, readers of the serving database keep the previous one whole, and the
next run of the product (or `mesh serving sync`) serves the lake's version: the two never differ
in part, and only until then.

Each view is a `security_barrier` view owned by the platform's role. It calls `mesh.require_read`
(a restricted port refuses a person none of whose groups it grants, with SQLSTATE 42501 and who
to ask) and, for a port with personal columns, reads the raw table only for a person whose group
is granted personal data, the lake's masked copy (the same keyed hash) for everyone else. Row
filters are row-level security policies on the tables behind it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

from platform_core.descriptors.column_types import is_scalar
from platform_core.descriptors.names import literal, quote
from platform_core.descriptors.spec import Port, Product
from platform_core.governance.access import MASKED_SUFFIX
from platform_core.serving.database import (
    DATA_SCHEMA,
    OWNER,
    READER,
    ServingTarget,
    admin,
    ensure_foundation,
    retried,
)
from platform_core.storage.lake import Lake, NotPublished, Publication, lake_table

LOADERS = 2  # tables loaded at a time
LOCK_TIMEOUT = "10s"  # how long the switch waits for a reader's query to let go of a view


@dataclass(frozen=True)
class ServedPort:
    address: str  # as published: hr.overtime.payroll_compensation__v1 for a previous major's
    port: Port
    view: str  # <domain>.<name>
    base: str
    masked: str | None
    rows: int = 0
    checksum: int | None = None


@dataclass(frozen=True)
class Served:
    """What serving did: the version now served, or why nothing changed."""

    product: str
    version: str | None
    snapshot: int | None
    ports: tuple[ServedPort, ...] = ()
    already: bool = False  # that version was served already

    def summary(self) -> str:
        if self.snapshot is None:
            return f"{self.product}: nothing published yet, nothing served"
        state = "already served" if self.already else "served"
        return f"{self.product} {self.version} (lake snapshot {self.snapshot}) {state}: " + ", ".join(
            p.view for p in self.ports
        )


def serve_latest(target: ServingTarget, lake: Lake, product: Product, run_id: str | None = None) -> Served:
    """Serve the product's last publication in the lake, unless it is what is served already."""
    try:
        with lake.connect() as con:  # one connection for all of it: each new one loads the lake's extensions
            return _serve(target, con, lake, product, run_id)
    except NotPublished:  # a fresh lake: nothing to serve yet
        return Served(product.product_address, None, None)


def _serve(
    target: ServingTarget, con: duckdb.DuckDBPyConnection, lake: Lake, product: Product, run_id: str | None
) -> Served:
    """Serve the product's last publication, read on `con`, the lake's connection."""
    publications = lake.publications(con, product.product_address)
    if not publications:
        return Served(product.product_address, None, None)
    publication = publications[-1]
    ports = served_ports(product, publication)
    with admin(target) as connection:
        ensure_foundation(connection)
    with serving_lock(target, product.product_address):  # one serving of a product at a time
        with admin(target) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT snapshot FROM mesh.served WHERE product = %s", (product.product_address,))
            row = cursor.fetchone()
        if row is not None and row[0] == publication.snapshot_id:
            return Served(product.product_address, publication.version, publication.snapshot_id, ports, already=True)
        loaded = load(target, con, publication, ports)
        retried(lambda: switch(target, product, publication, loaded, run_id))
        drop_unused(target, product.product_address)
    return Served(product.product_address, publication.version, publication.snapshot_id, loaded)


@contextmanager
def serving_lock(target: ServingTarget, product: str) -> Iterator[None]:
    """A session lock on the product's serving, held on a connection of its own: a second serving of
    the product waits, and a killed holder's lock goes with its connection."""
    with admin(target) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"serving {product}",))
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"serving {product}",))


def served_ports(product: Product, publication: Publication) -> tuple[ServedPort, ...]:
    """The ports of the publication that are served, with the names of their view and tables."""
    ports = []
    for port in product.published_ports:
        if not port.serve or port.name not in publication.ports:
            continue
        address = product.address(port.name)
        base = _table_name(address, publication.snapshot_id)
        masked = base + "_m" if port.personal_columns else None
        ports.append(ServedPort(address, port, f"{quote(product.domain)}.{quote(port.name)}", base, masked))
    return tuple(ports)


def _table_name(address: str, snapshot: int) -> str:
    """A table of `mesh_data` for one port at one snapshot: short (PostgreSQL keeps 63 characters),
    unique, and starting with its product's prefix; its comment says which port it holds."""
    return f"{_prefix(address.rsplit('.', 1)[0])}{_digest(address)}_s{snapshot}"


def _prefix(product: str) -> str:
    return f"p{_digest(product)}_"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- load -----------------------------------------------------------------------------------


def load(
    target: ServingTarget, con: duckdb.DuckDBPyConnection, publication: Publication, ports: tuple[ServedPort, ...]
) -> tuple[ServedPort, ...]:
    """Copy each port (and its masked copy) at the publication's snapshot into its own table, then
    count and checksum what arrived; the counts must be the lake's. Two tables load at a time: a
    copy keeps one core busy on each side (DuckDB sending, PostgreSQL receiving), and the
    checksum of one table runs while the next one arrives."""
    tables: list[tuple[Port, str, str, bool]] = [
        (served.port, address, table, table == served.base)
        for served in ports
        for address, table in ((served.address, served.base), (served.address + MASKED_SUFFIX, served.masked))
        if table is not None
    ]
    with admin(target) as connection, connection.cursor() as cursor:  # what a killed load left: kept, or dropped
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (DATA_SCHEMA,))
        existing = {name for (name,) in cursor.fetchall()}
        for _, _, table, _ in tables:
            if f"{table}_loading" in existing:
                cursor.execute(f"DROP TABLE {DATA_SCHEMA}.{quote(table + '_loading')}")
    con.execute("LOAD postgres")
    con.execute(f"ATTACH {literal(target.url)} AS serving (TYPE postgres)")
    # a cursor per loader, kept for its tables: each new one reads the serving database's catalog
    cursors: dict[int, duckdb.DuckDBPyConnection] = {}

    def loader_cursor() -> duckdb.DuckDBPyConnection:
        if threading.get_ident() not in cursors:
            cursors[threading.get_ident()] = con.cursor()
        return cursors[threading.get_ident()]

    try:
        with ThreadPoolExecutor(max_workers=LOADERS, thread_name_prefix="serving-load") as loaders:
            arrived = dict(
                loaders.map(
                    lambda job: _arrive(
                        target, loader_cursor(), publication.snapshot_id, job, exists=job[2] in existing
                    ),
                    tables,
                )
            )
    finally:
        for opened in cursors.values():
            opened.close()
        con.execute("DETACH serving")
    return tuple(
        ServedPort(**{**s.__dict__, "rows": arrived[s.base][0], "checksum": arrived[s.base][1]}) for s in ports
    )


def _arrive(
    target: ServingTarget,
    con: duckdb.DuckDBPyConnection,
    snapshot: int,
    job: tuple[Port, str, str, bool],
    exists: bool,
) -> tuple[str, tuple[int, int | None]]:
    """One table (of a port, its address, the table's name, whether it is the port's own table
    rather than its masked copy) copied, then counted (and a port's own table checksummed)."""
    port, address, table, base = job
    expected = _copy(con, port, address, table, snapshot, exists)
    # the checksum of the rows as the port's view shows them (tests compare what readers see with it)
    measure = "bit_xor(hash_record_extended(t, 0))" if base else "NULL::bigint"
    with admin(target) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), {measure} FROM ({_shown(port, table)}) AS t")
        rows, checksum = cursor.fetchone()
    if rows != expected:
        raise RuntimeError(f"{address}: {rows} rows arrived in the serving database, the lake has {expected}")
    return table, (rows, checksum)


def _copy(con: duckdb.DuckDBPyConnection, port: Port, address: str, table: str, snapshot: int, exists: bool) -> int:
    """One port's rows into `mesh_data.<table>` (made once: a retry finds it whole and keeps it)."""
    source = f"{lake_table(address)} AT (VERSION => {int(snapshot)})"
    rows = int(con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
    if not exists:
        # nested columns travel as JSON text; the view shows them as jsonb
        columns = ", ".join(
            quote(c.name) if is_scalar(c.type) else f"CAST(to_json({quote(c.name)}) AS VARCHAR) AS {quote(c.name)}"
            for c in port.columns
        )
        staging = f"{table}_loading"  # renamed once whole: a killed load leaves only a _loading table
        con.execute(f"CREATE TABLE serving.{DATA_SCHEMA}.{quote(staging)} AS SELECT {columns} FROM {source}")
        con.execute(f"ALTER TABLE serving.{DATA_SCHEMA}.{quote(staging)} RENAME TO {quote(table)}")
    return rows


# --- switch ---------------------------------------------------------------------------------


def switch(
    target: ServingTarget, product: Product, publication: Publication, ports: tuple[ServedPort, ...], run_id: str | None
) -> None:
    """In one transaction: every view of the product reads the new tables, with comments, grants,
    row filters and the record of what is served; views of ports no longer served go."""
    with admin(target) as connection, connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT view_name FROM mesh.served_ports WHERE product = %s", (product.product_address,))
        for (view,) in cursor.fetchall():
            if view not in {p.view for p in ports}:
                cursor.execute(f"DROP VIEW IF EXISTS {view}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(product.domain)}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {quote(product.domain)} TO {READER}")
        for served in ports:
            _view(cursor, product, served)
        # the metric compiler (and sqlglot) when serving, not when a code location loads
        from platform_core.serving.metrics import metric_functions

        metric_functions(cursor, product, READER)
        _record(cursor, product, publication, ports, run_id)


def _shown(port: Port, table: str) -> str:
    """The rows of one of the port's tables as its view shows them (nested columns as jsonb)."""
    columns = ", ".join(
        quote(c.name) if is_scalar(c.type) else f"{quote(c.name)}::jsonb AS {quote(c.name)}" for c in port.columns
    )
    return f"SELECT {columns} FROM {DATA_SCHEMA}.{quote(table)}"


def _view(cursor: Any, product: Product, served: ServedPort) -> None:
    port, address = served.port, served.address
    gate = f"(SELECT mesh.require_read({literal(address)}))"
    body = f"{_shown(port, served.base)} WHERE {gate}"
    if served.masked is not None:
        personal = f"(SELECT mesh.reads_personal({literal(address)}))"
        body = f"{body} AND {personal} UNION ALL {_shown(port, served.masked)} WHERE {gate} AND NOT {personal}"
    for table in (served.base, served.masked):  # the view reads them as their owner, under row security
        if table is not None:
            cursor.execute(f"ALTER TABLE {DATA_SCHEMA}.{quote(table)} OWNER TO {OWNER}")
    cursor.execute(f"DROP VIEW IF EXISTS {served.view}")
    cursor.execute(f"CREATE VIEW {served.view} WITH (security_barrier) AS {body}")
    cursor.execute(f"ALTER VIEW {served.view} OWNER TO {OWNER}")
    cursor.execute(f"COMMENT ON VIEW {served.view} IS %s", (_comment(product, port),))
    for column in port.columns:
        cursor.execute(f"COMMENT ON COLUMN {served.view}.{quote(column.name)} IS %s", (column.description,))
    cursor.execute(f"GRANT SELECT ON {served.view} TO {READER}")
    for table in (served.base, served.masked):
        if table is not None:
            _row_security(cursor, address, port, table)


def _comment(product: Product, port: Port) -> str:
    owner = product.owner.name or f"team {product.owner.team}"
    contact = f" ({product.owner.contact})" if product.owner.contact else ""
    return f"{port.description.strip()} — {product.title} {product.version}, owned by {owner}{contact}."


def _row_security(cursor: Any, address: str, port: Port, table: str) -> None:
    """Row filters as row-level security on a table behind the view (forced: the view's owner is
    the platform's role, and it reads as the person logged in)."""
    qualified = f"{DATA_SCHEMA}.{quote(table)}"
    cursor.execute(f"COMMENT ON TABLE {qualified} IS %s", (f"{address}: what its view reads",))
    cursor.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    cursor.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    cursor.execute(f"DROP POLICY IF EXISTS rows_for_people ON {qualified}")
    allowed = [f"(SELECT mesh.all_rows({literal(address)}))"]
    allowed += [
        f"((SELECT mesh.in_group({literal(f.group)})) AND {quote(f.column)}::text = ANY "
        f"(ARRAY(SELECT unnest(mesh.person_values({literal(f.equals)})))))"
        for f in port.row_filters
    ]
    cursor.execute(f"CREATE POLICY rows_for_people ON {qualified} FOR SELECT USING ({' OR '.join(allowed)})")


def _record(
    cursor: Any, product: Product, publication: Publication, ports: tuple[ServedPort, ...], run_id: str | None
) -> None:
    owner = product.owner.name or f"team {product.owner.team}"
    owner += f" ({product.owner.contact})" if product.owner.contact else ""
    name = product.product_address
    for table in ("ports", "served_ports"):
        cursor.execute(f"DELETE FROM mesh.{table} WHERE product = %s", (name,))
    cursor.execute("DELETE FROM mesh.grants WHERE address LIKE %s", (f"{name}.%",))
    cursor.execute("DELETE FROM mesh.row_filters WHERE address LIKE %s", (f"{name}.%",))
    for served in ports:
        port = served.port
        cursor.execute(
            "INSERT INTO mesh.ports VALUES (%s, %s, %s, %s, %s, %s)",
            (served.address, name, served.view, port.access == "restricted", owner, bool(port.personal_columns)),
        )
        cursor.execute(
            "INSERT INTO mesh.served_ports VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                served.address,
                name,
                served.view,
                served.base,
                served.masked,
                served.rows,
                served.checksum,
                publication.snapshot_id,
            ),
        )
        for grant in port.group_grants:
            cursor.execute(
                "INSERT INTO mesh.grants VALUES (%s, %s, %s, %s)",
                (served.address, grant.group, grant.purpose, grant.personal),
            )
        for row_filter in port.row_filters:
            cursor.execute(
                "INSERT INTO mesh.row_filters VALUES (%s, %s, %s, %s)",
                (served.address, row_filter.group, row_filter.column, row_filter.equals),
            )
    cursor.execute(
        "INSERT INTO mesh.served VALUES (%s, %s, %s, %s, now()) ON CONFLICT (product) DO UPDATE SET "
        "version = excluded.version, snapshot = excluded.snapshot, run_id = excluded.run_id, "
        "served_at = excluded.served_at",
        (name, publication.version, publication.snapshot_id, run_id),
    )


def drop_unused(target: ServingTarget, product: str) -> None:
    """Drop the tables of the product's earlier versions (and of loads that never switched): best
    effort, without waiting for a reader still on one; the next serving tries again."""
    with admin(target) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT base_table, masked_table FROM mesh.served_ports WHERE product = %s", (product,))
        kept = {name for row in cursor.fetchall() for name in row if name}
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND starts_with(c.relname, %s)",
            (DATA_SCHEMA, _prefix(product)),
        )
        stale = [name for (name,) in cursor.fetchall() if name not in kept]
    for name in stale:
        try:
            with admin(target) as connection, connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
                cursor.execute(f"DROP TABLE IF EXISTS {DATA_SCHEMA}.{quote(name)}")
        except Exception:  # noqa: BLE001 - a reader holds it; the next serving drops it
            continue
