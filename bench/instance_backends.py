"""Time a run of HR Overtime on the SQLite instance and on the PostgreSQL instance.

    .venv/bin/python bench/instance_backends.py --rounds 3 --json [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Each run is a whole `dagster asset materialize -m domains.hr.definitions --select '*'` process
with a fresh warehouse and a fresh instance from one of the project's instance files:
`dagster_home/dagster.yaml` (SQLite files under DAGSTER_HOME) or `dagster_home/dagster.postgres.yaml`
(a new database on the given server, created and dropped for each run), alternating within each
round. The descriptor cache is filled before the first round. Also timed: the events a run
writes, so that the cost per event of each instance shows. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from processes import PROJECT, fresh_instance, timed_materialize

BACKENDS = {"sqlite": "dagster.yaml", "postgres": "dagster.postgres.yaml"}


@contextmanager
def database(server: str) -> Iterator[str]:
    """A new database on the server, dropped after."""
    import psycopg2

    admin = psycopg2.connect(server, connect_timeout=5)
    admin.autocommit = True
    name = f"mesh_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def events_of_last_run(env: dict[str, str]) -> int:
    script = (
        "import dagster as dg; i = dg.DagsterInstance.get(); (r,) = i.get_runs(limit=1); "
        "print(len(i.all_logs(r.run_id)))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def run(backend: str, scratch: Path, server: str) -> tuple[float, int]:
    home = fresh_instance(scratch, BACKENDS[backend])
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONWARNINGS": "ignore",
        "MESH_SERVING": "off",
        "MESH_WAREHOUSE": tempfile.mkdtemp(prefix="warehouse-", dir=scratch),
    }
    arguments = ["-m", "domains.hr.definitions", "--select", "*"]
    try:
        if backend == "sqlite":
            return timed_materialize(arguments, PROJECT, env, backend), events_of_last_run(env)
        with database(server) as url:
            env["MESH_POSTGRES_URL"] = url
            # the tables made once up front, as `dagster instance migrate` does for a new instance
            subprocess.run(
                [str(Path(sys.executable).parent / "dagster"), "instance", "migrate"],
                env=env,
                capture_output=True,
                check=True,
            )
            return timed_materialize(arguments, PROJECT, env, backend), events_of_last_run(env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(env["MESH_WAREHOUSE"], ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", action="store_true", help="One JSON line instead of a table.")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    walls: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        run("sqlite", scratch, arguments.postgres)  # warm-up: the descriptor cache, the file system's
        for _ in range(arguments.rounds):
            for backend in BACKENDS:
                wall, events[backend] = run(backend, scratch, arguments.postgres)
                walls[backend].append(wall)
    medians = {backend: round(statistics.median(values), 2) for backend, values in walls.items()}
    result = {
        "benchmark": "instance_backends",
        "rounds": arguments.rounds,
        "medians_s": medians,
        "ratio_postgres_to_sqlite": round(medians["postgres"] / medians["sqlite"], 2),
        "events_per_run": events,
        "walls": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    if arguments.json:
        print(json.dumps(result))
    else:
        for backend in BACKENDS:
            print(f"{backend:<10} {medians[backend]:6.2f} s   {walls[backend]}   {events[backend]} events")
        print(f"PostgreSQL / SQLite: {result['ratio_postgres_to_sqlite']}")


if __name__ == "__main__":
    main()
