"""What people read through the serving database: from PostgreSQL's own statistics, into the usage journal.

`pg_stat_statements` counts, per role and normalized statement, how often it ran and how many rows
it returned. Each collection reads it and keeps, for every person's statement, the calls and rows
since the last collection (`mesh.usage_seen` holds the counters seen). It parses the statement
(sqlglot, PostgreSQL's dialect) against the served views' columns: the ports it names (a view named
without its domain is found by its name alone) and every column of them it selects, filters, joins
or groups on. A metric function's call reads what its body reads. One line per person and port
goes to the usage journal (platform_core.storage.usage), with the person's groups the port is
granted to (all of the person's groups for a port granted to none).

Collections happen on `mesh usage`, `mesh access usage` and the platform's `serving_usage` sensor.
A server without `pg_stat_statements` loaded (an external one may not have it) records no usage,
and collecting says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg2

from platform_core.descriptors.lineage import columns_read
from platform_core.serving.database import GROUP_PREFIX, ServingTarget, admin
from platform_core.storage.usage import Read, UsageLog

Views = Mapping[str, tuple[str, list[str]]]  # served view (`hr.fact_overtime`) -> (port address, its columns)


def collect_usage(target: ServingTarget, usage: UsageLog) -> list[Read]:
    """Record in `usage` the statements people ran since the last collection; what was recorded."""
    with admin(target) as connection, connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cursor.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        except psycopg2.Error as error:
            raise UsageUnavailable(
                f"usage is not recorded: pg_stat_statements is not loaded in the serving database "
                f"({str(error).strip().splitlines()[0]})"
            ) from None
        views = _views(cursor)
        cursor.execute("SELECT function_name, body FROM mesh.served_metrics")
        functions = {name.replace('"', ""): body for name, body in cursor.fetchall()}
        cursor.execute(
            "SELECT r.rolname, substr(g.rolname, %s) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            "JOIN pg_roles g ON g.oid = m.roleid WHERE starts_with(g.rolname, %s)",
            (len(GROUP_PREFIX) + 1, GROUP_PREFIX),
        )
        groups: dict[str, set[str]] = {}
        for login, group in cursor.fetchall():
            groups.setdefault(login, set()).add(group)
        cursor.execute("SELECT address, group_name FROM mesh.grants")
        granted: dict[str, set[str]] = {}
        for address, group in cursor.fetchall():
            granted.setdefault(address, set()).add(group)
        cursor.execute(
            "SELECT s.userid, s.queryid, r.rolname, sum(s.calls), sum(s.rows), min(s.query) "
            "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid JOIN mesh.people p ON p.login = r.rolname "
            "WHERE s.queryid IS NOT NULL GROUP BY s.userid, s.queryid, r.rolname"
        )
        statements = cursor.fetchall()
        cursor.execute("SELECT userid, queryid, calls, rows_read FROM mesh.usage_seen")
        seen = {(userid, queryid): (calls, rows) for userid, queryid, calls, rows in cursor.fetchall()}
        added: dict[tuple[str, str], tuple[set[str], list[int]]] = {}
        for userid, queryid, login, calls, rows, query in statements:
            before_calls, before_rows = seen.get((userid, queryid), (0, 0))
            # counters that went back were reset (pg_stat_statements_reset): count from zero
            new_calls, new_rows = (calls - before_calls, rows - before_rows) if calls >= before_calls else (calls, rows)
            cursor.execute(
                "INSERT INTO mesh.usage_seen VALUES (%s, %s, %s, %s) ON CONFLICT (userid, queryid) DO "
                "UPDATE SET calls = excluded.calls, rows_read = excluded.rows_read",
                (userid, queryid, calls, rows),
            )
            if new_calls <= 0:
                continue
            for address, columns in statement_reads(query, views, functions).items():
                found, totals = added.setdefault((login, address), (set(), [0, 0]))
                found |= columns
                totals[0] += int(new_calls)
                totals[1] += int(new_rows)
    now = datetime.now(UTC)
    recorded = [
        Read(
            at=now,
            surface="serving",
            reader=login,
            address=address,
            columns=tuple(sorted(columns)),
            groups=tuple(sorted((groups.get(login, set()) & granted.get(address, set())) or groups.get(login, set()))),
            reads=calls,
            rows=rows,
        )
        for (login, address), (columns, (calls, rows)) in sorted(added.items())
    ]
    usage.record(recorded)
    return recorded


class UsageUnavailable(Exception):
    """The serving database keeps no statistics of statements: usage cannot be recorded."""


def _views(cursor: Any) -> dict[str, tuple[str, list[str]]]:
    """Every served view (`hr.fact_overtime`), with the port it serves and its columns."""
    cursor.execute(
        "SELECT p.address, p.view_name, c.column_name FROM mesh.ports p JOIN information_schema.columns c "
        "ON c.table_schema || '.' || c.table_name = replace(p.view_name, '\"', '') ORDER BY c.ordinal_position"
    )
    views: dict[str, tuple[str, list[str]]] = {}
    for address, view, column in cursor.fetchall():
        views.setdefault(view.replace('"', ""), (address, []))[1].append(column)
    return views


def statement_reads(query: str, views: Views, functions: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """The ports (addresses) a statement reads, each with the columns of it the statement touches:
    views named with their domain (`hr.payroll_compensation`) or, where no other domain serves that
    name, without; metric functions called, through their bodies."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(query, read="postgres")
    except sqlglot.errors.ParseError:
        return {}
    domains: dict[str, list[str]] = {}
    for view in views:
        domains.setdefault(view.split(".")[-1], []).append(view.split(".")[0])
    bodies = []
    for table in tree.find_all(exp.Table):
        if not table.db and len(domains.get(table.name, [])) == 1:
            table.set("db", exp.to_identifier(domains[table.name][0]))  # as PostgreSQL's search path found it
    for call in tree.find_all(exp.Anonymous):
        parent = call.parent
        schema = parent.db if isinstance(parent, exp.Table) else parent.this.name if isinstance(parent, exp.Dot) else ""
        if f"{schema}.{call.name}" in functions:
            bodies.append(functions[f"{schema}.{call.name}"])
    found: dict[str, set[str]] = {}
    for sql in [tree.sql(dialect="postgres"), *bodies]:
        named = {f"{t.db}.{t.name}" for t in sqlglot.parse_one(sql, read="postgres").find_all(exp.Table)} & set(views)
        schema = {view: views[view][1] for view in named}
        columns = columns_read(sql, schema, "postgres") if schema else {}
        for view in named:  # a statement sqlglot cannot follow reads every column of each view it names
            read = schema[view] if columns is None else columns.get(view, frozenset())
            found.setdefault(views[view][0], set()).update(read)
    return {address: frozenset(columns) for address, columns in found.items()}
