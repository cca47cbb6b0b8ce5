"""The instance on PostgreSQL: URLs as people write them reach the database through psycopg2,
an instance made from dagster_home/dagster.postgres.yaml stores runs there, and its lock on
pool slots keeps other sessions out until it is released or its process dies."""

from __future__ import annotations

import select
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import deserialize_value, serialize_value

from platform_core.dagster.postgres_storage import (
    MeshPostgresStorage,
    PoolSafePostgresEventLogStorage,
    with_psycopg2,
)
from tests.conftest import PROJECT
from tests.instances import project_instance
from tests.postgres import fresh_database


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://mesh:secret@db:5432/dagster", "postgresql+psycopg2://mesh:secret@db:5432/dagster"),
        ("postgres://mesh@db/dagster?sslmode=require", "postgresql+psycopg2://mesh@db/dagster?sslmode=require"),
        ("postgresql+psycopg2://mesh@db/dagster", "postgresql+psycopg2://mesh@db/dagster"),  # a named driver is kept
    ],
)
def test_a_driverless_scheme_is_made_psycopg2s(url: str, expected: str) -> None:
    assert with_psycopg2(url) == expected


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_storage_accepts_both_schemes(scheme: str) -> None:
    with fresh_database("mesh_storage") as url:
        _reaches_the_database(url.replace("postgresql://", f"{scheme}://", 1))


def _reaches_the_database(url: str) -> None:
    storage = MeshPostgresStorage.from_config_value(None, {"postgres_url": url})
    assert storage.postgres_url.startswith("postgresql+psycopg2://")
    storage.event_log_storage.set_concurrency_slots("duckdb_scheme", 1)  # reaches the database
    assert storage.event_log_storage.get_concurrency_info("duckdb_scheme").slot_count == 1


def test_each_storage_keeps_its_connections_instead_of_one_per_operation() -> None:
    """Dagster's storages connect anew for every operation (about 8 ms each); these keep a few."""
    import sqlalchemy as db

    with fresh_database("mesh_pool") as url:
        storage = MeshPostgresStorage.from_config_value(None, {"postgres_url": url})
        events, runs = storage.event_log_storage, storage.run_storage
        connects: list[str] = []
        for name, part in (("events", events), ("runs", runs)):
            db.event.listen(part._engine, "connect", lambda *_, name=name: connects.append(name))
        events.set_concurrency_slots("duckdb_pool", 1)
        for _ in range(50):
            assert events.get_concurrency_info("duckdb_pool").slot_count == 1
            assert runs.get_runs(limit=1) == []
        # the slots lock holds one connection while the operation it guards takes another
        assert connects.count("events") <= 2 and connects.count("runs") == 1, connects
        threads = [threading.Thread(target=lambda: runs.get_runs(limit=1)) for _ in range(8)]
        for thread in threads:  # threads at once: the pool grows for them, and answers every one
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        for part in (events, runs):
            part._engine.dispose()


def test_storage_built_from_postgres_db_fields_uses_psycopg2() -> None:
    config = {
        "postgres_db": {
            "username": "mesh",
            "password": "",
            "hostname": "db",
            "db_name": "dagster",
            "port": 5432,
            "params": {},
            "scheme": "postgresql",
        }
    }
    # not connected: tables are created on first use only when asked to
    storage = MeshPostgresStorage.from_config_value(None, {**config, "should_autocreate_tables": False})
    assert storage.postgres_url == "postgresql+psycopg2://mesh@db:5432/dagster"
    assert storage.should_autocreate_tables is False


@dg.asset
def trivial() -> int:
    return 1


def test_instance_from_the_postgres_file_stores_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with project_instance("postgres", tmp_path, monkeypatch), dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PoolSafePostgresEventLogStorage)
        result = dg.materialize([trivial], instance=instance)
        assert result.success
        # a run worker rebuilds the instance from its serialized ref: the same class, the same database
        ref = deserialize_value(serialize_value(instance.get_ref()), InstanceRef)
        assert ref.storage_data is not None and ref.storage_data.class_name == "MeshPostgresStorage"
        with dg.DagsterInstance.from_ref(ref) as worker:
            assert [run.run_id for run in worker.get_runs()] == [result.run_id]
            assert worker.get_latest_materialization_event(dg.AssetKey("trivial")) is not None
        # what Dagster's class would name as the event log alone is rebuilt through this class too
        part = instance.get_ref().storage.event_storage_data.rehydrate(as_type=object)  # type: ignore[union-attr]
        assert isinstance(part._storage, MeshPostgresStorage)


def _storage(url: str) -> PoolSafePostgresEventLogStorage:
    return MeshPostgresStorage.from_config_value(None, {"postgres_url": url}).event_log_storage  # type: ignore[return-value]


def _set_slots_in_thread(storage: PoolSafePostgresEventLogStorage) -> threading.Event:
    done = threading.Event()

    def set_slots() -> None:
        storage.set_concurrency_slots("duckdb_locked", 1)
        done.set()

    threading.Thread(target=set_slots, daemon=True).start()
    return done


def test_the_slot_lock_keeps_another_session_out_until_released() -> None:
    with fresh_database("mesh_storage") as url:
        holder, other = _storage(url), _storage(url)  # two storages: two sessions, as two processes have
        with holder.slots_locked():
            with holder.slots_locked():  # reentrant in its thread: an outer call holds it already
                holder.set_concurrency_slots("duckdb_held", 1)
            done = _set_slots_in_thread(other)
            assert not done.wait(1.0)  # the other session waits for the lock
        assert done.wait(30)  # and gets it once released
        assert other.get_concurrency_info("duckdb_locked").slot_count == 1


HOLD_AND_WAIT = """
import sys, time
from platform_core.dagster.postgres_storage import MeshPostgresStorage
storage = MeshPostgresStorage.from_config_value(None, {"postgres_url": sys.argv[1]}).event_log_storage
with storage.slots_locked():
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_process_that_dies_holding_the_slot_lock_releases_it() -> None:
    with fresh_database("mesh_storage") as url:
        storage = _storage(url)  # the tables exist before the process starts
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_AND_WAIT, url], cwd=PROJECT, stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and select.select([holder.stdout], [], [], 60)[0]
            assert holder.stdout.readline().strip() == "held"
            done = _set_slots_in_thread(storage)
            assert not done.wait(1.0)
            holder.kill()  # as a run killed mid-claim: the server ends its session, and the lock with it
            assert done.wait(30)
        finally:
            holder.kill()
            holder.wait(timeout=10)
