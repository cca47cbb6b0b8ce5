"""Who read which port, when and how often: from PostgreSQL's own statistics, kept as data.

`pg_stat_statements` counts, per role and normalized statement, how often it ran and how many
rows it returned. Each collection reads it, keeps for every person's statement the calls and rows
since the last collection, finds the served views the statement names (parsed with sqlglot; a
view named without its domain is found by its name alone), and adds one row per person, port
and collection to `mesh.usage` in the serving database:

    SELECT login, address, sum(statements) FROM mesh.usage GROUP BY 1, 2;

A person's groups are in `mesh.people`'s memberships at the time of reading. Collections happen
whenever a product is served, on `mesh access usage`, and on the platform's `serving_usage`
sensor. A server without `pg_stat_statements` loaded (an external one may not have it) records
no usage, and collecting says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

from platform_core.serving.database import ServingTarget, admin


@dataclass(frozen=True)
class UsageRow:
    login: str
    address: str
    statements: int
    rows_read: int


def collect_usage(target: ServingTarget) -> list[UsageRow]:
    """Record the statements people ran since the last collection; what was added."""
    with admin(target) as connection, connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cursor.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        except psycopg2.Error as error:
            raise UsageUnavailable(
                f"usage is not recorded: pg_stat_statements is not loaded in the serving database "
                f"({str(error).strip().splitlines()[0]})"
            ) from None
        cursor.execute("SELECT address, view_name FROM mesh.ports")
        views = {view.replace('"', ""): address for address, view in cursor.fetchall()}
        cursor.execute(
            "SELECT s.userid, s.queryid, r.rolname, sum(s.calls), sum(s.rows), min(s.query) "
            "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid JOIN mesh.people p ON p.login = r.rolname "
            "WHERE s.queryid IS NOT NULL GROUP BY s.userid, s.queryid, r.rolname"
        )
        statements = cursor.fetchall()
        cursor.execute("SELECT userid, queryid, calls, rows_read FROM mesh.usage_seen")
        seen = {(userid, queryid): (calls, rows) for userid, queryid, calls, rows in cursor.fetchall()}
        added: dict[tuple[str, str], list[int]] = {}
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
            for address in read_ports(query, views):
                total = added.setdefault((login, address), [0, 0])
                total[0] += int(new_calls)
                total[1] += int(new_rows)
        rows_added = [
            UsageRow(login, address, calls, rows) for (login, address), (calls, rows) in sorted(added.items())
        ]
        for row in rows_added:
            cursor.execute(
                "INSERT INTO mesh.usage VALUES (now(), %s, %s, %s, %s)",
                (row.login, row.address, row.statements, row.rows_read),
            )
    return rows_added


class UsageUnavailable(Exception):
    """The serving database keeps no statistics of statements: usage cannot be recorded."""


def read_ports(query: str, views: dict[str, str]) -> list[str]:
    """The addresses of the served views a statement names (`hr.payroll_compensation`, or
    `payroll_compensation` where no other domain serves that name)."""
    import sqlglot
    from sqlglot import exp

    try:
        parsed = sqlglot.parse(query, read="postgres")
    except sqlglot.errors.ParseError:
        return []
    by_name: dict[str, list[str]] = {}
    for qualified, address in views.items():
        by_name.setdefault(qualified.split(".")[-1], []).append(address)
    found = []
    for statement in parsed:
        for table in statement.find_all(exp.Table) if statement is not None else ():
            name = f"{table.db}.{table.name}" if table.db else table.name
            if name in views:
                found.append(views[name])
            elif not table.db and len(by_name.get(table.name, [])) == 1:
                found.append(by_name[table.name][0])
    return sorted(set(found))
