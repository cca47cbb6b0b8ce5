"""Shared fixtures. Every test gets its own warehouse and Dagster instance under tmp_path;
nothing here reads or writes the developer's dagster_home or warehouse."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from platform_core.catalog.mesh import domain_order, load_mesh
from platform_core.dagster.factory import build_domain
from platform_core.settings import MASKING_KEY_VARIABLE, WAREHOUSE_VARIABLE, Settings
from platform_core.storage.warehouse import Warehouse
from tests.postgres import fresh_database

PROJECT = Path(__file__).resolve().parent.parent


# The event log storage the platform ships (dagster_home/dagster.yaml), in every test's
# DAGSTER_HOME: Dagster's own opens and closes a SQLite connection per event, which is most of a
# run's time on the shipped sample, in tests as anywhere. A test that needs the whole shipped
# instance (pools, run queue) copies that file over this one.
SHIPPED_EVENT_LOG = {"module": "platform_core.dagster.instance_storage", "class": "PoolSafeSqliteEventLogStorage"}


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAREHOUSE_VARIABLE, str(tmp_path / "warehouse"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv(MASKING_KEY_VARIABLE, "a-test-key-that-is-not-secret")
    (tmp_path / "dagster_home").mkdir()
    storage = {"event_log_storage": {**SHIPPED_EVENT_LOG, "config": {"base_dir": "history/runs"}}}
    (tmp_path / "dagster_home" / "dagster.yaml").write_text(yaml.safe_dump(storage))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse_root=tmp_path / "warehouse")


def platform_instance(home: Path) -> contextlib.AbstractContextManager[dg.DagsterInstance]:
    """A temporary Dagster instance in `home` with the event log storage the platform ships."""
    runs = {"base_dir": str(home / "history" / "runs")}
    return dg.instance_for_test(
        temp_dir=str(home), overrides={"event_log_storage": {**SHIPPED_EVENT_LOG, "config": runs}}
    )


@pytest.fixture
def instance(tmp_path: Path):
    with platform_instance(tmp_path / "dagster_home") as test_instance:
        yield test_instance


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, selection: str = "*") -> dg.ExecuteInJobResult:
    """Materialize a selection of a code location's assets in-process, as the UI would."""
    return dg.materialize(
        list(defs.assets or []),
        instance=instance,
        resources=defs.resources,
        selection=selection,
        raise_on_error=False,
    )


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DAGSTER_HOME": str(tmp_path / "dagster_home"), WAREHOUSE_VARIABLE: str(tmp_path / "warehouse")})
    return env


@dataclass(frozen=True)
class MeshRun:
    """Every domain of workspace.yaml materialized once, producers first, in one instance and warehouse."""

    order: list[str]
    results: dict[str, dg.ExecuteInJobResult]
    warehouse: Warehouse
    instance: dg.DagsterInstance


@pytest.fixture(scope="session")
def mesh_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mesh")
    (root / "masking.key").write_text("a-test-key-that-is-not-secret")  # the session outlives the test's variable
    settings = Settings(
        warehouse_root=root / "warehouse", workspace=PROJECT / "workspace.yaml", masking_key_file=root / "masking.key"
    )
    order = domain_order(load_mesh(settings.workspace))
    (root / "dagster_home").mkdir()
    with platform_instance(root / "dagster_home") as test_instance:
        results = {name: materialize(build_domain(name, settings), test_instance) for name in order}
        yield MeshRun(order, results, Warehouse(settings.warehouse_root), test_instance)


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database of the test server (tests/postgres.py), dropped afterwards."""
    with fresh_database() as url:
        yield url
