"""The lake beyond one machine: a PostgreSQL catalog and an S3 data path, as a deployment has them.

A local S3 server (moto's server mode, on 127.0.0.1) stands in for object storage and each test
has a PostgreSQL database of its own (tests/postgres.py). Every process is configured from the
environment only, as processes on several machines would be: writers of two domains commit in
two processes while a third reads; a domain is materialized by Dagster and its ports read back
from another process; the catalog's tables are in PostgreSQL and the Parquet files in the bucket,
none on the local disk.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from platform_core.settings import Settings
from platform_core.storage.lake import NotPublished
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env
from tests.postgres import fresh_database
from tests.webserver import free_port

pytestmark = pytest.mark.xdist_group("remote_lake")
BUCKET = "mesh-lake"
WORKER = [sys.executable, "-m", "tests.remote_lake_worker"]


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """A local S3 server with an empty bucket; stopped on leaving."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=(tmp_path / "s3.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, (tmp_path / "s3.log").read_text()[-2000:]
                time.sleep(0.2)
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT"), timeout=10).close()
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def libpq(url: str) -> str:
    """`postgresql://user@host:port/db` as the key=value string DuckDB's catalog takes."""
    parts = urlsplit(url)
    return (
        f"dbname={parts.path.lstrip('/')} host={parts.hostname} port={parts.port or 5432} "
        f"user={parts.username or 'postgres'}"
    )


def remote_env(tmp_path: Path, postgres_url: str, s3_endpoint: str) -> dict[str, str]:
    env = subprocess_env(tmp_path)
    env.update(
        {
            "MESH_LAKE_CATALOG": f"postgres:{libpq(postgres_url)}",
            "MESH_LAKE_DATA": f"s3://{BUCKET}/lake/",
            "MESH_S3_ENDPOINT": s3_endpoint,
            "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_REGION": "us-east-1",
            "MESH_MASKING_KEY": "a-test-key-that-is-not-secret",
        }
    )
    return env


def bucket_keys(s3_endpoint: str) -> list[str]:
    with urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}?list-type=2&max-keys=1000", timeout=10) as response:
        text = response.read().decode()
    return [part.split("</Key>")[0] for part in text.split("<Key>")[1:]]


def catalog_snapshots(postgres_url: str) -> int:
    import psycopg2

    with psycopg2.connect(postgres_url) as con, con.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ducklake_snapshot")
        return cursor.fetchone()[0]


def test_writers_of_two_domains_and_a_reader_each_in_its_own_process(
    tmp_path: Path, postgres_url: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = remote_env(tmp_path, postgres_url, s3_endpoint)
    stop, start, count = tmp_path / "stop", time.time() + 3, 8
    reader = subprocess.Popen(
        [*WORKER, "read", "alpha,beta", str(stop)], cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True
    )
    writers = [
        subprocess.Popen(
            [*WORKER, "publish", domain, str(count), str(start)],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for domain in ("alpha", "beta")
    ]
    try:
        published = [json.loads(w.communicate(timeout=240)[0].strip().splitlines()[-1]) for w in writers]
        time.sleep(1)  # the reader's last loop sees the last versions
    finally:
        stop.touch()
        read = json.loads(reader.communicate(timeout=120)[0].strip().splitlines()[-1])
        for process in [*writers, reader]:
            process.kill()  # no-op once exited
    assert [w.returncode for w in writers] == [0, 0] and reader.returncode == 0
    snapshots = [s for p in published for s in p["snapshots"]]
    assert len(snapshots) == len(set(snapshots)) == 2 * count  # every commit landed, each its own snapshot
    assert read["errors"] == [] and read["reads"] > 0
    for domain, mine in zip(("alpha", "beta"), published, strict=True):
        assert set(read["seen"][domain]) <= set(mine["snapshots"])
        assert read["seen"][domain][-1:] == mine["snapshots"][-1:]  # the reader caught up with the last version

    # this process reads both, configured the same way
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    warehouse = Warehouse.from_settings(Settings.from_env())
    assert warehouse.read("alpha.load.numbers").aggregate("max(round)").fetchone()[0] == count - 1
    keys = bucket_keys(s3_endpoint)
    assert any(k.startswith("lake/alpha/") and k.endswith(".parquet") for k in keys)
    assert any(k.startswith("lake/beta/") and k.endswith(".parquet") for k in keys)
    assert catalog_snapshots(postgres_url) >= 2 * count
    assert not (tmp_path / "warehouse" / "lake").exists()  # nothing of the lake on this machine's disk


def test_a_domain_materialized_by_dagster_is_read_from_another_process(
    tmp_path: Path, postgres_url: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole deployment's storage beyond the machine: the instance on PostgreSQL too."""
    with fresh_database("mesh_instance") as instance_url:
        env = remote_env(tmp_path, postgres_url, s3_endpoint) | {"MESH_POSTGRES_URL": instance_url}
        (tmp_path / "dagster_home").mkdir(exist_ok=True)
        shutil.copy(PROJECT / "dagster_home" / "dagster.postgres.yaml", tmp_path / "dagster_home" / "dagster.yaml")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _materialize_read_and_describe(env, s3_endpoint)


def _materialize_read_and_describe(env: dict[str, str], s3_endpoint: str) -> None:
    with pytest.raises(NotPublished, match="holds no lake"):  # a new catalog is no error: nothing published yet
        Warehouse.from_settings(Settings.from_env()).read("sales.orders.dim_customer")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "domains.sales.definitions",
            "--select",
            "*",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    script = (
        "from platform_core.settings import Settings; from platform_core.storage.warehouse import Warehouse; "
        "w = Warehouse.from_settings(Settings.from_env()); "
        "print(w.read('sales.orders.dim_customer').aggregate('count(*)').fetchone()[0], "
        "w.current('sales.orders.dim_customer').version)"
    )
    rows, version = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert int(rows) > 0
    assert any(k.startswith("lake/sales/") for k in bucket_keys(s3_endpoint))
    mesh = str(Path(sys.executable).parent / "mesh")
    show = subprocess.run(
        [mesh, "show", "sales.orders.dim_customer"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )
    assert show.returncode == 0, show.stderr
    assert version in show.stdout
    # health from the PostgreSQL instance: the run, its checks, freshness
    status = subprocess.run(
        [mesh, "status", "--domain", "sales", "--json"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert [(p["address"], p["state"]) for p in json.loads(status.stdout)] == [("sales.orders", "healthy")]
