"""People in the serving database: their roles, groups and passwords, from people.yaml.

Each person logs in with a role of their own (their `login`), member of `mesh_reader` (may connect
and read the served views) and of one role per group. `sync_people` makes the database say what
people.yaml says: new people and groups are added, memberships follow the file, and a person no
longer in it loses every membership and the right to log in, and their sessions are ended: from
the next statement on they read nothing. A grant removed from a descriptor is served by the next
serving of its product (`mesh serving sync` at once): the check is made on every statement.

Passwords are never in a file: `mesh access add` and `mesh access reset` set a new one and show
it once. Only its SCRAM-SHA-256 verifier, computed here, reaches the server.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from platform_core.descriptors.names import quote
from platform_core.descriptors.people import People, Person
from platform_core.descriptors.spec import Port, Product
from platform_core.serving.database import GROUP_PREFIX, READER, ServingTarget, admin, ensure_foundation, group_role
from platform_core.serving.server import ServingError

PERSON_COMMENT = "a person of the mesh (people.yaml)"


@dataclass(frozen=True)
class Synced:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = [f"{len(self.groups)} group(s)"]
        parts += [f"added {', '.join(self.added)}"] if self.added else []
        parts += [f"removed {', '.join(self.removed)}"] if self.removed else []
        return "people synced: " + "; ".join(parts)


def sync_people(target: ServingTarget, people: People) -> Synced:
    """Make the serving database's people, groups and memberships those of people.yaml."""
    with admin(target) as connection, connection.cursor() as cursor:
        ensure_foundation(connection)
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('mesh serving people'))")
        for group in people.groups:
            _ensure_role(
                cursor, group_role(group.name), login=False, comment=f"group {group.name}: {group.description}"
            )
        cursor.execute("SELECT login FROM mesh.people")
        before = {login for (login,) in cursor.fetchall()}
        for person in people.people:
            _person(cursor, person.login, person.name, person.email, person.groups, people.group_names)
            cursor.execute("DELETE FROM mesh.person_attributes WHERE login = %s", (person.login,))
            for attribute in person.attributes:
                for value in person.values(attribute):
                    cursor.execute(
                        "INSERT INTO mesh.person_attributes VALUES (%s, %s, %s)", (person.login, attribute, value)
                    )
        gone = sorted(before - {p.login for p in people.people})
        for login in gone:
            _remove(cursor, login)
        _drop_undeclared_groups(cursor, people.group_names)
    return Synced(
        tuple(sorted({p.login for p in people.people} - before)), tuple(gone), tuple(sorted(people.group_names))
    )


def _person(
    cursor: Any, login: str, name: str, email: str | None, groups: tuple[str, ...], declared: frozenset[str]
) -> None:
    _ensure_role(cursor, login, login=True, comment=PERSON_COMMENT)
    cursor.execute(f"ALTER ROLE {quote(login)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION")
    cursor.execute("SELECT DISTINCT trim(both '\"' from split_part(view_name, '.', 1)) AS s FROM mesh.ports ORDER BY s")
    schemas = [schema for (schema,) in cursor.fetchall()]
    if schemas:  # their queries may name a port without its domain: hr.payroll_compensation or payroll_compensation
        cursor.execute(f"ALTER ROLE {quote(login)} SET search_path = {', '.join(quote(s) for s in schemas)}")
    cursor.execute(f"GRANT {READER} TO {quote(login)}")
    cursor.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s) AND starts_with(r.rolname, %s)",
        (login, GROUP_PREFIX),
    )
    member_of = {role for (role,) in cursor.fetchall()}
    wanted = {group_role(g) for g in groups if g in declared}
    for role in sorted(wanted - member_of):
        cursor.execute(f"GRANT {quote(role)} TO {quote(login)}")
    for role in sorted(member_of - wanted):
        cursor.execute(f"REVOKE {quote(role)} FROM {quote(login)}")
    cursor.execute(
        "INSERT INTO mesh.people VALUES (%s, %s, %s) ON CONFLICT (login) DO UPDATE SET "
        "name = excluded.name, email = excluded.email",
        (login, name, email),
    )


def _remove(cursor: Any, login: str) -> None:
    """A person no longer in people.yaml: no membership, no login, no session."""
    cursor.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (login,),
    )
    for (role,) in cursor.fetchall():
        cursor.execute(f"REVOKE {quote(role)} FROM {quote(login)}")
    cursor.execute(f"ALTER ROLE {quote(login)} NOLOGIN PASSWORD NULL")
    cursor.execute("DELETE FROM mesh.person_attributes WHERE login = %s", (login,))
    cursor.execute("DELETE FROM mesh.people WHERE login = %s", (login,))
    cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))


def _drop_undeclared_groups(cursor: Any, declared: frozenset[str]) -> None:
    cursor.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (GROUP_PREFIX,))
    for (role,) in cursor.fetchall():
        if role.removeprefix(GROUP_PREFIX) not in declared:
            cursor.execute(f"DROP ROLE IF EXISTS {quote(role)}")


def _ensure_role(cursor: Any, name: str, login: bool, comment: str) -> None:
    """Create the role, or check that an existing one is the mesh's (an external server may hold
    roles of its own by the same name: they are never taken over)."""
    cursor.execute("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (name,))
    row = cursor.fetchone()
    if row is None:
        cursor.execute(f"CREATE ROLE {quote(name)} {'LOGIN' if login else 'NOLOGIN'}")
    elif not (row[0] or "").startswith((PERSON_COMMENT, "group ")):
        raise ServingError(
            f"the serving database already has a role {name!r} that is not the mesh's; "
            "choose another login or group name"
        )
    cursor.execute(f"COMMENT ON ROLE {quote(name)} IS %s", (comment,))


def set_password(target: ServingTarget, login: str) -> str:
    """A new password for `login`, returned to be shown once; the server stores its SCRAM verifier."""
    from psycopg2.extensions import encrypt_password

    password = secrets.token_urlsafe(18)
    with admin(target) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM mesh.people WHERE login = %s", (login,))
        if cursor.fetchone() is None:
            raise ServingError(
                f"{login!r} is not a person of the serving database: add them to people.yaml (mesh access add) first"
            )
        verifier = encrypt_password(password, login, connection, "scram-sha-256")
        cursor.execute(f"ALTER ROLE {quote(login)} PASSWORD %s", (verifier,))
    return password


@dataclass(frozen=True)
class Reading:
    """What one person reads of one served port, and why."""

    login: str
    address: str
    why: str  # public, or the group granted and its purpose
    personal: str  # in clear (and by which group's grant) or masked
    rows: str  # all, or the row filter that applies


def who_reads(products: list[Product], people: People) -> list[Reading]:
    """Every person and served port they may read, from the descriptors and people.yaml (what the
    serving database enforces once synced and served)."""
    found = []
    for product in products:
        for port in product.published_ports:
            if not port.serve:
                continue
            for person in people.people:
                reading = _reading(product.address(port.name), port, person)
                if reading is not None:
                    found.append(reading)
    return found


def _reading(address: str, port: Port, person: Person) -> Reading | None:
    granted = [g for g in port.group_grants if g.group in person.groups]
    if port.access == "restricted" and not granted:
        return None
    why = "; ".join(f"group {g.group}: {g.purpose}" for g in granted) if granted else "public port"
    clear = [str(g.group) for g in granted if g.personal]
    personal = ("in clear (" + ", ".join(clear) + ")" if clear else "masked") if port.personal_columns else "-"
    filtered = [f for f in port.row_filters if f.group in person.groups]
    unfiltered = set(person.groups) - {f.group for f in port.row_filters}
    rows = (
        "all"
        if not filtered or unfiltered
        else " or ".join(
            f"{f.column} in their {f.equals} ({', '.join(person.values(f.equals)) or 'none'})" for f in filtered
        )
    )
    return Reading(person.login, address, why, personal, rows)
