"""Which serving database the platform uses, and the objects every one of them holds.

- `MESH_SERVING_URL` (a libpq URL of a role that may create roles and schemas) names any PostgreSQL
  >= 14: then that one.
- Else the embedded server, once `mesh serving start` (or `scripts/platform.sh`) has made it under
  `<warehouse>/serving/`.
- Else none: products are published to the lake only (a fresh warehouse, the tests, a pipeline
  that serves nobody). `MESH_SERVING=off` says none explicitly.

In the database: one schema per domain holds a view per served port (what people query);
`mesh_data` the tables behind them (nobody but the platform reads it); `mesh` what governs them
(who is in which group, who may read which port, row filters, what is served, usage counters) and the
functions the views call. People log in with roles of their own, members of `mesh_reader` (may
connect and read the served views, nothing else) and of one role per group (`mesh_group_<name>`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from platform_core.serving.server import EmbeddedServer, ServingError
from platform_core.settings import Settings, serving_url

READER = "mesh_reader"
OWNER = "mesh_owner"
GROUP_PREFIX = "mesh_group_"
DATA_SCHEMA = "mesh_data"
MESH_SCHEMA = "mesh"


@dataclass(frozen=True)
class ServingTarget:
    """The serving database: its admin URL (secret: never shown whole), and the server when embedded."""

    url: str
    embedded: EmbeddedServer | None = None

    @property
    def where(self) -> str:
        """The database without credentials, for messages and the UI: `127.0.0.1:5433/mesh`."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path or '/'}"

    def reader_url(self, login: str, password: str) -> str:
        """How a person connects: their login and password, the same host, database and TLS."""
        parts = urlsplit(self.url)
        return f"postgresql://{login}:{password}@{parts.hostname}:{parts.port or 5432}{parts.path}" + (
            f"?{parts.query}" if parts.query else ""
        )


def serving_target(url: str | None, serving_root: Path, port: int, mode: str = "auto") -> ServingTarget | None:
    """The serving database the settings name, or None when products are served to nobody."""
    if mode == "off":
        return None
    if url:
        return ServingTarget(url)
    server = EmbeddedServer(serving_root, port=port)
    if mode == "embedded" or server.initialized:
        return ServingTarget("" if not server.initialized else server.url(), server)
    return None


@contextmanager
def admin(target: ServingTarget, timeout: float = 10) -> Iterator[Any]:
    """A connection as the platform's role, in a transaction committed on success; ServingError in
    words when the database cannot be reached."""
    import psycopg2

    try:
        connection = psycopg2.connect(target.url, connect_timeout=int(timeout), application_name="mesh platform")
    except psycopg2.OperationalError as error:
        if target.embedded is not None and not target.embedded.running():
            raise ServingError(
                f"the serving database ({target.embedded.root}) is not running; start it with "
                "`mesh serving start` (scripts/platform.sh does)"
            ) from None
        raise ServingError(
            f"the serving database {target.where} cannot be reached: {str(error).strip().splitlines()[0]}"
        ) from None
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def retried(action: Any, attempts: int = 5) -> Any:
    """Run `action()` again when PostgreSQL gave up a lock (lock timeout, deadlock): a reader's long
    query held a view the publication replaces. Other errors go through."""
    import psycopg2.errors

    for attempt in range(attempts):
        try:
            return action()
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    return None


def group_role(group: str) -> str:
    return f"{GROUP_PREFIX}{group}"


def ensure_foundation(connection: Any) -> None:
    """The schemas, tables, functions and roles every serving database holds (idempotent; one
    process at a time)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('mesh serving foundation'))")
        cursor.execute(FOUNDATION)


# The functions run as the platform's role (SECURITY DEFINER) and ask about the person logged in
# (session_user): views and row-level security policies call them once per statement.
FOUNDATION = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mesh_reader') THEN CREATE ROLE mesh_reader NOLOGIN; END IF;
  -- owns the views and the tables behind them: not a superuser, so row-level security holds for it
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mesh_owner') THEN
    CREATE ROLE mesh_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'mesh_owner', 'MEMBER') THEN EXECUTE format('GRANT mesh_owner TO %I', current_user);
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS mesh;
CREATE SCHEMA IF NOT EXISTS mesh_data;
REVOKE ALL ON SCHEMA mesh, mesh_data FROM PUBLIC;
GRANT USAGE ON SCHEMA mesh_data TO mesh_owner;
DO $$ BEGIN  -- people connect to this database only, and create nothing in it, not even temporary tables
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO mesh_reader', current_database());
END $$;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE TABLE IF NOT EXISTS mesh.people (login text PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE IF NOT EXISTS mesh.person_attributes (login text NOT NULL, attribute text NOT NULL, value text NOT NULL);
CREATE TABLE IF NOT EXISTS mesh.ports (
  address text PRIMARY KEY, product text NOT NULL, view_name text NOT NULL, restricted boolean NOT NULL,
  owner text NOT NULL, personal boolean NOT NULL);
CREATE TABLE IF NOT EXISTS mesh.grants (
  address text NOT NULL, group_name text NOT NULL, purpose text NOT NULL, personal boolean NOT NULL);
CREATE TABLE IF NOT EXISTS mesh.row_filters (
  address text NOT NULL, group_name text NOT NULL, column_name text NOT NULL, attribute text NOT NULL);
CREATE TABLE IF NOT EXISTS mesh.served (
  product text PRIMARY KEY, version text NOT NULL, snapshot bigint NOT NULL, run_id text,
  served_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS mesh.served_ports (
  address text PRIMARY KEY, product text NOT NULL, view_name text NOT NULL, base_table text NOT NULL,
  masked_table text, row_count bigint NOT NULL, checksum bigint, snapshot bigint NOT NULL);
CREATE TABLE IF NOT EXISTS mesh.served_metrics (
  address text PRIMARY KEY, product text NOT NULL, function_name text NOT NULL);
-- what a call reads: the body that joins the most ports (usage parses it as a person's statement)
ALTER TABLE mesh.served_metrics ADD COLUMN IF NOT EXISTS body text NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS mesh.usage_seen (
  userid oid NOT NULL, queryid bigint NOT NULL, calls bigint NOT NULL, rows_read bigint NOT NULL,
  PRIMARY KEY (userid, queryid));

-- whether the one logged in is a person (the platform's own role reads everything, unfiltered)
CREATE OR REPLACE FUNCTION mesh.is_person() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
  SELECT EXISTS (SELECT FROM mesh.people WHERE login = session_user::text)
$f$;

CREATE OR REPLACE FUNCTION mesh.in_group(g text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
  SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mesh_group_' || g)
     AND pg_has_role(session_user, 'mesh_group_' || g, 'MEMBER')
$f$;

-- true, or an error naming who to ask: a restricted port is read only by the groups it grants
CREATE OR REPLACE FUNCTION mesh.require_read(port text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
DECLARE p mesh.ports;
BEGIN
  SELECT * INTO p FROM mesh.ports WHERE address = port;
  IF NOT FOUND OR NOT p.restricted OR NOT mesh.is_person() THEN RETURN true; END IF;
  IF EXISTS (SELECT FROM mesh.grants g WHERE g.address = port AND mesh.in_group(g.group_name)) THEN
    RETURN true;
  END IF;
  RAISE EXCEPTION '% is restricted: none of your groups is granted it', port
    USING ERRCODE = 'insufficient_privilege',
          HINT = format('ask %s for a grant to your group, with its purpose', p.owner);
END $f$;

-- whether the one logged in reads personal columns in clear: a group of theirs is granted them
CREATE OR REPLACE FUNCTION mesh.reads_personal(port text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
  SELECT NOT mesh.is_person()
      OR EXISTS (SELECT FROM mesh.grants g WHERE g.address = port AND g.personal AND mesh.in_group(g.group_name))
$f$;

-- whether the one logged in reads every row: not a person, in no group the port filters, or in
-- a group it does not filter
CREATE OR REPLACE FUNCTION mesh.all_rows(port text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
  SELECT NOT mesh.is_person()
      OR NOT EXISTS (SELECT FROM mesh.row_filters f WHERE f.address = port AND mesh.in_group(f.group_name))
      OR EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                 WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = session_user)
                   AND r.rolname LIKE 'mesh\\_group\\_%'
                   AND substr(r.rolname, 12) NOT IN (SELECT group_name FROM mesh.row_filters WHERE address = port))
$f$;

-- the values of an attribute of the one logged in, for row filters
CREATE OR REPLACE FUNCTION mesh.person_values(attr text) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = mesh, pg_temp AS $f$
  SELECT coalesce(array_agg(value), '{}') FROM mesh.person_attributes
   WHERE login = session_user::text AND attribute = attr
$f$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mesh FROM PUBLIC;
-- the views people read call them as the person (they answer about that person only, and cannot be
-- called by name: people have no usage of schema mesh)
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mesh TO mesh_reader, mesh_owner;
"""


def target_of(settings: Settings) -> ServingTarget | None:
    """The serving database of the settings (MESH_SERVING_URL read now: it holds a password)."""
    return serving_target(serving_url(), settings.serving_root, settings.serving_port, settings.serving)
