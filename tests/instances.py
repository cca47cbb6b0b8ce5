"""The project's instance files installed in a test's DAGSTER_HOME, on SQLite or on PostgreSQL.

Tests of what the instance guarantees across processes (pools, concurrent runs) run against
both files the project ships: `dagster_home/dagster.yaml` (SQLite, pools under a file lock)
and `dagster_home/dagster.postgres.yaml` (PostgreSQL, pools under an advisory lock), the
latter on a fresh database of the test server (tests/postgres.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from platform_core.dagster.postgres_storage import URL_VARIABLE
from tests.conftest import PROJECT, subprocess_env
from tests.postgres import fresh_database

BACKENDS = ("sqlite", "postgres")
INSTANCE_FILES = {"sqlite": "dagster.yaml", "postgres": "dagster.postgres.yaml"}


@contextmanager
def project_instance(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Install the backend's instance file as the test's (DAGSTER_HOME is set by conftest) and
    yield the environment for processes that share the instance. On PostgreSQL the database
    URL is set in this process too, so `DagsterInstance.get()` here reaches the same database."""
    shutil.copy(PROJECT / "dagster_home" / INSTANCE_FILES[backend], tmp_path / "dagster_home" / "dagster.yaml")
    if backend == "sqlite":
        yield subprocess_env(tmp_path)
        return
    with fresh_database("mesh_instance") as url:
        monkeypatch.setenv(URL_VARIABLE, url)
        yield subprocess_env(tmp_path)
