"""A PostgreSQL database of its own for a test, on the server of MESH_TEST_POSTGRES_URL.

The URL defaults to the machines' server (`postgresql://postgres@127.0.0.1:5432/postgres`,
trust auth). Each use creates a database with a fresh name and drops it afterwards. Without
a server the test is skipped on a laptop, and fails under CI=true, which must run it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

URL_VARIABLE = "MESH_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get(URL_VARIABLE) or DEFAULT_URL


def _connect(url: str):
    import psycopg2  # installed with dagster-postgres

    return psycopg2.connect(url, connect_timeout=5)


@contextmanager
def fresh_database(prefix: str = "mesh_test") -> Iterator[str]:
    """The URL (`postgresql://...`) of a new, empty database, dropped on leaving."""
    url = server_url()
    try:
        admin = _connect(url)
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means there is none
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the PostgreSQL tests, but {url} cannot be reached: {error}")
        pytest.skip(f"no PostgreSQL server at {url} ({str(error).splitlines()[0]})")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
