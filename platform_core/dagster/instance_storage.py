"""Dagster's SQLite event log storage, with concurrency pool slots taken one process at a time.

Dagster claims a pool slot by selecting a free slot row and then updating it, and relies on
`SELECT ... FOR UPDATE SKIP LOCKED` to keep two claimers apart. PostgreSQL honours that;
SQLite ignores it. Two runs that claim the same pool at the same moment on a local instance
can then both take its only slot, and two steps of one domain write its DuckDB file at once.
This storage holds an exclusive file lock around every operation that reads and changes
slots or the queue of pending steps, so the pools hold across processes. Everything else is
Dagster's `SqliteEventLogStorage`, unchanged. On PostgreSQL instance storage Dagster's row
locks already do this, and this class is not used.

Configured in `dagster_home/dagster.yaml`:

    event_log_storage:
      module: platform_core.dagster.instance_storage
      class: PoolSafeSqliteEventLogStorage
      config:
        base_dir: history/runs     # relative paths are taken from DAGSTER_HOME
"""

import fcntl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import IO, Any, TypeVar

from dagster import DagsterInstance, DagsterInvariantViolationError
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData

from platform_core.dagster.dead_runs import reap_dead_runs
from platform_core.settings import dagster_home

LOCK_FILE = "concurrency.lock"
REAP_INTERVAL_SECONDS = 5.0

Method = TypeVar("Method", bound=Callable[..., Any])


def _serialized(method: Method) -> Method:
    @wraps(method)
    def run_alone(self: "PoolSafeSqliteEventLogStorage", *args: Any, **kwargs: Any) -> Any:
        with self.slots_locked():
            return method(self, *args, **kwargs)

    return run_alone  # type: ignore[return-value]


class PoolSafeSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose concurrency slot bookkeeping is serialized across processes."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        path = Path(base_dir).expanduser()
        if not path.is_absolute():
            path = dagster_home() / path
        super().__init__(str(path), inst_data=inst_data)
        self._lock_path = Path(self._base_dir) / LOCK_FILE
        # A file lock belongs to an open file, so the threads of one process share it through
        # a reentrant lock, and only the outermost holder opens and locks the file.
        self._thread_lock = threading.RLock()
        self._held: IO[str] | None = None
        self._looked: dict[str, float] = {}  # pool -> when this process last looked for its dead holders

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

    _claim = _serialized(SqliteEventLogStorage.claim_concurrency_slot)

    def claim_concurrency_slot(self, concurrency_key: str, run_id: str, step_key: str,
                               priority: int | None = None) -> Any:
        """Claim a slot; when none is free and a run holding one is dead (its process killed),
        reap it first, so a killed run never blocks its pool, daemon or not."""
        status = self._claim(concurrency_key, run_id, step_key, priority)
        instance = self._live_instance()
        if status.is_claimed or instance is None or not self._time_to_look(concurrency_key):
            return status
        holders = {slot.run_id for slot in self.get_concurrency_info(concurrency_key).claimed_slots} - {run_id}
        if holders and reap_dead_runs(instance, sorted(holders)):
            status = self._claim(concurrency_key, run_id, step_key, priority)
        return status

    def _live_instance(self) -> DagsterInstance | None:
        """The instance this storage belongs to, while it exists (a storage may outlive it)."""
        try:
            return self._instance if self.has_instance else None
        except DagsterInvariantViolationError:
            return None

    def _time_to_look(self, concurrency_key: str) -> bool:
        """Look for dead holders of a pool at most every few seconds: a waiting run claims often."""
        now = time.monotonic()
        if now - self._looked.get(concurrency_key, float("-inf")) < REAP_INTERVAL_SECONDS:
            return False
        self._looked[concurrency_key] = now
        return True

    free_concurrency_slot_for_step = _serialized(SqliteEventLogStorage.free_concurrency_slot_for_step)
    free_concurrency_slots_for_run = _serialized(SqliteEventLogStorage.free_concurrency_slots_for_run)
    assign_pending_steps = _serialized(SqliteEventLogStorage.assign_pending_steps)
    set_concurrency_slots = _serialized(SqliteEventLogStorage.set_concurrency_slots)
    initialize_concurrency_limit_to_default = _serialized(
        SqliteEventLogStorage.initialize_concurrency_limit_to_default
    )
    delete_concurrency_limit = _serialized(SqliteEventLogStorage.delete_concurrency_limit)
