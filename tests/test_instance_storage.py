"""The instance's event log storage keeps concurrency pools exact across processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from platform_core.dagster import instance_storage
from platform_core.dagster.instance_storage import PoolSafeSqliteEventLogStorage
from platform_core.dagster.postgres_storage import PoolSafePostgresEventLogStorage
from platform_core.settings import dagster_home
from tests.conftest import PROJECT, subprocess_env
from tests.instances import BACKENDS, project_instance
from tests.slot_claimer import POOL

ROUNDS, PERIOD = 40, 0.2


def _project_instance(tmp_path: Path) -> dict[str, str]:
    env = subprocess_env(tmp_path)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    return env


def test_project_instance_uses_pool_safe_storage_in_dagster_home(tmp_path: Path) -> None:
    _project_instance(tmp_path)  # DAGSTER_HOME is already the test's (conftest)
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    assert isinstance(storage, PoolSafeSqliteEventLogStorage)
    assert Path(storage._base_dir) == tmp_path / "dagster_home" / "history" / "runs"
    # runs and schedules keep Dagster's default places next to it
    assert (tmp_path / "dagster_home" / "history" / "runs.db").exists()


def test_dagster_home_must_be_set() -> None:
    with pytest.raises(RuntimeError, match="DAGSTER_HOME is not set"):
        dagster_home({})


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_never_hold_a_one_slot_pool_together(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with project_instance(backend, tmp_path, monkeypatch) as env, dg.DagsterInstance.get() as instance:
        # each instance file serializes slot claims: SQLite under a file lock, PostgreSQL under
        # an advisory lock (Dagster's own PostgreSQL storage let both processes in, some rounds)
        expected = PoolSafeSqliteEventLogStorage if backend == "sqlite" else PoolSafePostgresEventLogStorage
        assert isinstance(instance.event_log_storage, expected)
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        start = time.time() + 3  # both processes have imported Dagster by then
        claimers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.slot_claimer", str(start), str(ROUNDS), str(PERIOD)],
                cwd=PROJECT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            outputs = [claimer.communicate(timeout=120)[0] for claimer in claimers]
        finally:
            for claimer in claimers:
                claimer.kill()  # no-op once they have exited
                claimer.wait(timeout=10)
        assert [claimer.returncode for claimer in claimers] == [0, 0]
        first, second = (json.loads(output) for output in outputs)

        together = [(a, b) for a in first for b in second if a[0] < b[1] and b[0] < a[1]]
        assert together == []
        # the pool admitted work rather than refusing every claim (how many rounds each process
        # wins depends on the machine's load, so only that is asserted)
        assert first or second
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert (info.slot_count, info.claimed_slots, info.pending_steps) == (1, [], [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pool_another_process_made_a_moment_ago_is_taken_as_it_is(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one domain starting together both find its pool new and both set its default
    limit; on Dagster's PostgreSQL storage the second failed its run (a duplicate, then an update
    in the aborted transaction)."""
    with project_instance(backend, tmp_path, monkeypatch), dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert storage.initialize_concurrency_limit_to_default(POOL)
        assert storage.initialize_concurrency_limit_to_default(POOL)  # as the other run's process does
        info = storage.get_concurrency_info(POOL)
        assert (info.slot_count, info.limit, info.using_default_limit) == (1, 1, True)


def test_a_lock_that_could_not_be_taken_is_not_left_marked_as_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project_instance(tmp_path)
    storage = dg.DagsterInstance.get().event_log_storage
    real_flock, calls = instance_storage.fcntl.flock, []

    def interrupted_once(handle, operation) -> None:
        calls.append(operation)
        if len(calls) == 1:
            raise OSError("interrupted while waiting for the lock")
        real_flock(handle, operation)

    monkeypatch.setattr(instance_storage.fcntl, "flock", interrupted_once)
    with pytest.raises(OSError, match="interrupted"):
        storage.set_concurrency_slots(POOL, 1)
    assert storage._held is None  # the next call must take the lock, not run as if nested
    storage.set_concurrency_slots(POOL, 1)
    assert calls[1:] == [instance_storage.fcntl.LOCK_EX, instance_storage.fcntl.LOCK_UN]
    assert storage.get_concurrency_info(POOL).slot_count == 1


def _log_entry(run_id: str, message: str) -> dg.EventLogEntry:
    return dg.EventLogEntry(
        error_info=None,
        level="INFO",
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
        step_key=None,
        job_name="job",
        dagster_event=None,
    )


def test_events_are_seen_by_a_watcher_of_another_process_as_they_are_written(tmp_path: Path) -> None:
    """The UI follows a run's logs by watching the run's file; the writer keeps its connection
    open (no checkpoint on each event), so it must still make the file change for each event."""
    writer = PoolSafeSqliteEventLogStorage(str(tmp_path / "runs"))
    watcher = PoolSafeSqliteEventLogStorage(str(tmp_path / "runs"))  # the webserver's own storage object
    seen: list[str] = []
    writer.store_event(_log_entry("run-1", "first"))  # the run's file exists before anyone watches it
    watcher.watch("run-1", None, lambda entry, cursor: seen.append(entry.user_message))
    try:
        for message in ["second", "third"]:
            writer.store_event(_log_entry("run-1", message))
            deadline = time.time() + 10
            while seen[-1:] != [message] and time.time() < deadline:
                time.sleep(0.05)
            assert seen[-1:] == [message], seen  # each event reaches the watcher before the next is written
    finally:
        watcher.dispose()
        writer.dispose()
    assert [r.event_log_entry.user_message for r in watcher.get_records_for_run("run-1").records] == [
        "first",
        "second",
        "third",
    ]


def test_connections_stay_open_and_commit_without_a_full_sync(tmp_path: Path) -> None:
    storage = PoolSafeSqliteEventLogStorage(str(tmp_path / "runs"))
    try:
        storage.store_event(_log_entry("run-1", "one"))
        with storage.run_connection("run-1") as first:
            synchronous = first.exec_driver_sql("PRAGMA synchronous").scalar()
            journal = first.exec_driver_sql("PRAGMA journal_mode").scalar()
            raw = first.connection.dbapi_connection
        with storage.run_connection("run-1") as second:
            assert second.connection.dbapi_connection is raw  # the same connection: no checkpoint between events
        assert (synchronous, journal) == (1, "wal")  # NORMAL in WAL mode
        storage.wipe()  # deletes the runs' files: the connections to them are closed first
        storage.store_event(_log_entry("run-2", "two"))
        assert [r.event_log_entry.user_message for r in storage.get_records_for_run("run-2").records] == ["two"]
        assert not (tmp_path / "runs" / "run-1.db").exists()
    finally:
        storage.dispose()
