"""Dagster's SQLite event log storage, with concurrency pool slots taken one process at a time.

Dagster claims a pool slot by selecting a free slot row and then updating it, and relies on
`SELECT ... FOR UPDATE SKIP LOCKED` to keep two claimers apart. PostgreSQL honours that;
SQLite ignores it. Two runs that claim the same pool at the same moment on a local instance
can then both take its only slot, and two steps of one domain write its DuckDB file at once.
This storage holds an exclusive file lock around every operation that reads and changes
slots or the queue of pending steps, so the pools hold across processes. Everything else is
Dagster's `SqliteEventLogStorage`, except how it connects. Dagster opens a new engine and
connection for every event and closes it after; closing a database's last connection
checkpoints its WAL, two fsyncs per event, and a run of one product writes hundreds of events
(one per check result): on the shipped HR sample, that was most of a run's time. Here each
database file keeps its engine and an open connection per thread, with `synchronous=NORMAL`,
SQLite's recommended setting in WAL mode (which Dagster's databases are in): a crash of a
process never loses or corrupts a commit; only a power cut can lose the last ones. Because the
UI follows a run's logs by watching the run's file change, each stored event touches it.
On PostgreSQL instance storage this class is not used; Dagster's row locks do not hold the
pools there either (its claims run in autocommit), and `platform_core.dagster.postgres_storage`
serializes them under an advisory lock.

Configured in `dagster_home/dagster.yaml`:

    event_log_storage:
      module: platform_core.dagster.instance_storage
      class: PoolSafeSqliteEventLogStorage
      config:
        base_dir: history/runs     # relative paths are taken from DAGSTER_HOME
"""

import fcntl
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import sqlalchemy as db
from dagster import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.pool import SingletonThreadPool

from platform_core.dagster.dead_runs import DeadHoldersReaped
from platform_core.dagster.slots import serialized, slot_methods_serialized
from platform_core.settings import dagster_home

LOCK_FILE = "concurrency.lock"
KEPT_ENGINES = 64  # database files (the index, and runs) whose engine a process keeps


@slot_methods_serialized
class PoolSafeSqliteEventLogStorage(DeadHoldersReaped, SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose concurrency slot bookkeeping is serialized across processes."""

    runs_are_local = True  # dead_runs.LOCAL_RUNS: a SQLite instance runs on this machine only

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        path = Path(base_dir).expanduser()
        if not path.is_absolute():
            path = dagster_home() / path
        self._engines: dict[str, db.Engine] = {}  # shard -> its engine, the most recently used last
        super().__init__(str(path), inst_data=inst_data)
        self._lock_path = Path(self._base_dir) / LOCK_FILE
        # A file lock belongs to an open file, so the threads of one process share it through
        # a reentrant lock, and only the outermost holder opens and locks the file.
        self._thread_lock = threading.RLock()
        self._held: IO[str] | None = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        """Dagster's own `_connect`, with the shard's engine kept and commits without a full fsync."""
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                # Connections stay open (one per thread): closing a database's last connection
                # checkpoints its WAL, two fsyncs per event in Dagster's own storage.
                engine = db.create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=SingletonThreadPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                db.event.listen(engine, "connect", _synchronous_normal)
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > KEPT_ENGINES:
                self._engines.pop(next(iter(self._engines))).dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event: EventLogEntry) -> None:
        """Dagster's, then the run's file touched: the UI follows a run's logs by watching that
        file change, which with connections left open happens only at a checkpoint."""
        super().store_event(event)
        if event.run_id:
            with suppress(OSError):
                os.utime(self.path_for_shard(event.run_id))

    def wipe(self) -> None:
        self._dispose_engines()  # Dagster deletes the runs' files: no connection may write to them after
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PoolSafeSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def slots_locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._held is not None:  # this thread holds it already, in an outer call
                yield
                return
            handle = self._lock_path.open("a")
            try:
                # Interrupted here (a signal, an unsupported file system), nothing is marked as
                # held: the next call waits for the lock again instead of running without it.
                fcntl.flock(handle, fcntl.LOCK_EX)
            except BaseException:
                handle.close()
                raise
            self._held = handle
            try:
                yield
            finally:
                self._held = None
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    _claim = serialized(SqliteEventLogStorage.claim_concurrency_slot)  # DeadHoldersReaped claims through it


def _synchronous_normal(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")
