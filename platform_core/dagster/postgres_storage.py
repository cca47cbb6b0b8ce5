"""Dagster's PostgreSQL instance storage, reached through psycopg2, with pools that hold.

The instance file `dagster_home/dagster.postgres.yaml` takes its database from the
environment (`MESH_POSTGRES_URL=postgresql://user@host:port/database`), the form people
and tools write. SQLAlchemy 2.1 reads a bare `postgresql://` URL as the psycopg 3 driver,
which is not installed with dagster-postgres (and whose parameter style breaks the NOTIFY
Dagster's event log sends); psycopg2 is. `MeshPostgresStorage` is `DagsterPostgresStorage`
with the scheme of such a URL, given directly or built from `postgres_db`, rewritten to
`postgresql+psycopg2://`. A URL that names its driver is left as it is.

Pools do not hold on Dagster's PostgreSQL storage alone. It claims a slot with
`SELECT ... FOR UPDATE SKIP LOCKED` and then an update, but on a connection in autocommit
mode: the row lock ends with the select, so two processes that claim at the same moment
both take the slot (two processes claiming a one-slot pool 40 times together held it at
once in 7 of 10 tries, in up to 10 rounds: the race of tests/test_instance_storage.py). The
event log here serializes every operation that reads and changes slots or the queue of
pending steps under a PostgreSQL advisory lock, as `platform_core.dagster.instance_storage`
does with a file lock on SQLite.
The lock belongs to a connection of its own: if a process dies holding it, the server ends
the session and the lock with it.

Connections are kept. Dagster's PostgreSQL storages open a new connection for every
operation (`NullPool`, so that an instance holds none while idle), and a run of HR writes
about 800 events: a connection's start-up (a new server process, authentication) costs more
than the insert. Each storage here keeps a small pool (`POOL_SIZE` connections, more while
threads ask at once, each replaced once older than `POOL_RECYCLE_SECONDS`); the webserver's storages
keep Dagster's own pools as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
import sqlalchemy.pool as db_pool
import yaml
from dagster._core.storage.event_log.schema import ConcurrencyLimitsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
    retry_pg_connection_fn,
)

from platform_core.dagster.dead_runs import DeadHoldersReaped
from platform_core.dagster.slots import serialized, slot_methods_serialized

URL_VARIABLE = "MESH_POSTGRES_URL"  # where dagster_home/dagster.postgres.yaml takes the database from
PSYCOPG2_SCHEME = "postgresql+psycopg2://"
_BARE_SCHEMES = ("postgresql://", "postgres://")
_LEGACY_STORAGE = "dagster._core.storage.legacy_storage"
# One lock for all pools of the database (advisory locks are per database): a fixed 64-bit key
# that nothing else in Dagster's tables takes.
SLOTS_LOCK_KEY = 0x6D657368_736C6F74  # "meshslot"
# Connections each storage keeps: two, since the slots lock holds one while the operation it
# guards takes another; threads asking at once open up to POOL_OVERFLOW more, closed after use.
POOL_SIZE = 2
POOL_OVERFLOW = 8
POOL_RECYCLE_SECONDS = 300  # a kept connection is replaced after this (a server's idle timeout)


def with_psycopg2(url: str) -> str:
    """The URL with a driverless PostgreSQL scheme made explicitly psycopg2's."""
    for scheme in _BARE_SCHEMES:
        if url.startswith(scheme):
            return PSYCOPG2_SCHEME + url[len(scheme) :]
    return url


@slot_methods_serialized
class PoolSafePostgresEventLogStorage(DeadHoldersReaped, PostgresEventLogStorage):
    """`PostgresEventLogStorage` whose concurrency slot bookkeeping is serialized across processes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An advisory lock belongs to a session, so the threads of one process share it through
        # a reentrant lock, and only the outermost holder opens a connection and locks.
        self._thread_lock = threading.RLock()
        self._held: db.Connection | None = None

    @contextmanager
    def slots_locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._held is not None:  # this thread holds it already, in an outer call
                yield
                return
            conn = retry_pg_connection_fn(self._engine.connect)
            try:
                conn.execute(db.text("SELECT pg_advisory_lock(:key)"), {"key": SLOTS_LOCK_KEY})
            except BaseException:
                conn.close()
                raise
            self._held = conn
            try:
                yield
            finally:
                self._held = None
                try:
                    conn.execute(db.text("SELECT pg_advisory_unlock(:key)"), {"key": SLOTS_LOCK_KEY})
                except BaseException:
                    # the connection must not go back to a pool (the webserver's engine keeps
                    # one) still holding the lock: dropped, its session ends and the lock with it
                    conn.invalidate()
                    raise
                finally:
                    conn.close()

    _claim = serialized(SqlEventLogStorage.claim_concurrency_slot)  # DeadHoldersReaped claims through it

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        """Dagster's, for a pool whose limit another process has just made: Dagster inserts the
        row and, on a duplicate, updates it in the same transaction, which PostgreSQL has aborted
        at the duplicate (`InFailedSqlTransaction`: the run fails). Runs of one domain that start
        together both find the pool new. Here an existing row is brought to the default and its
        slots allocated, as Dagster's update would; a new one goes to Dagster."""
        default_limit = self._instance.global_op_concurrency_default_limit if self.has_instance else None
        if default_limit is None or not (self.has_concurrency_limits_table and self.has_default_pool_limit_col):
            return super().initialize_concurrency_limit_to_default(concurrency_key)
        limits = ConcurrencyLimitsTable.c
        with self.index_transaction() as conn:
            if conn.execute(db.select(limits.id).where(limits.concurrency_key == concurrency_key)).fetchone():
                conn.execute(
                    ConcurrencyLimitsTable.update()
                    .values(limit=default_limit)
                    .where(db.and_(limits.concurrency_key == concurrency_key, limits.limit != default_limit))
                )
                self._allocate_concurrency_slots(conn, concurrency_key, default_limit)
                return True
        return super().initialize_concurrency_limit_to_default(concurrency_key)


class MeshPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` that connects with psycopg2 for `postgresql://` and `postgres://`
    URLs, and whose event log keeps concurrency pools exact across processes."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # Dagster's event log has made the tables if they were missing; this one finds them
        self._event_log_storage = PoolSafePostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            _keep_connections(storage, postgres_url, token_provider)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> MeshPostgresStorage:
        # inst_data is kept as given (this class and the unresolved config, `{env: ...}`), so a
        # run worker rebuilt from the instance's ref makes this class again, not Dagster's.
        return cls(
            inst_data=inst_data,
            postgres_url=with_psycopg2(pg_url_from_config(config_value)),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    # Dagster's class names its own per-kind storages with this config, which would connect
    # with the bare URL; each kind is named here as Dagster names it for any custom storage.
    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return self._part("LegacyEventLogStorage")

    @property
    def run_storage_data(self) -> ConfigurableClassData | None:
        return self._part("LegacyRunStorage")

    @property
    def schedule_storage_data(self) -> ConfigurableClassData | None:
        return self._part("LegacyScheduleStorage")

    def _part(self, class_name: str) -> ConfigurableClassData | None:
        data = self.inst_data
        if data is None:
            return None
        whole = {"module_name": data.module_name, "class_name": data.class_name, "config_yaml": data.config_yaml}
        return ConfigurableClassData(_LEGACY_STORAGE, class_name, yaml.dump(whole, default_flow_style=False))


def _keep_connections(storage: Any, postgres_url: str, token_provider: Any) -> None:
    """The storage's engine, Dagster's `NullPool` one, replaced by one that keeps its connections."""
    kept = create_pg_engine(
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        poolclass=db_pool.QueuePool,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,  # a connection the server closed meanwhile is replaced, not an error
    )
    storage._engine.dispose()
    storage._engine = kept
