"""What the serving database costs: HR runs with and without serving, and reading a port.

    .venv/bin/python bench/serving.py --rows 1000000 --rounds 2 --json

For N records (bench/hr_sources.py, kept between runs as bench/run.py keeps them), in fresh
processes, alternating: `dagster asset materialize` of HR with the serving database off, and
with the embedded serving database started for the warehouse beforehand (its start is not
timed: it runs beside the platform). Then, on the served warehouse, reading the largest port
(`hr.fact_overtime`, one row per overtime record) whole into Python: DuckDB reading the lake
(`Warehouse.read(...).fetchall()`), psycopg2 through the serving database (`fetchall()`), and
both as pandas frames (`.df()`, `pandas.read_sql`). Medians; the machine's load is printed.
Figures go to docs/benchmarks.md, whatever they are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(PROJECT))

from run import DAGSTER, KEY, measured, project_copy, sources  # noqa: E402

from platform_core.serving.server import EmbeddedServer  # noqa: E402
from platform_core.storage.warehouse import Warehouse  # noqa: E402

PORT = "hr.overtime.fact_overtime"
READ_AT_MOST = 1_000_000


def run_hr(work: Path, project: Path, serving: bool, port: int) -> tuple[float, Path]:
    """One materialization of HR; its wall time and its warehouse."""
    home, warehouse = work / "dagster_home", work / "warehouse"
    home.mkdir(parents=True)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_")}
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "MESH_WAREHOUSE": str(warehouse),
            "MESH_MASKING_KEY": KEY,
            "MESH_SERVING": "auto" if serving else "off",
            "MESH_SERVING_PORT": str(port),
        }
    )
    if serving:
        EmbeddedServer(warehouse / "serving", port=port).start()
    result = measured(
        [DAGSTER, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*"], project, env, work / "run"
    )
    log = str(result["stdout"]) + str(result["stderr"])
    if serving and "served:" not in log and "(lake snapshot" not in log:
        raise SystemExit(f"the run did not serve:\n{log[-3000:]}")
    return float(result["wall_s"]), warehouse


def reading(warehouse: Path, port: int, rounds: int) -> dict[str, float]:
    """Seconds to read the port whole into Python, from the lake and from the serving database."""
    import pandas as pd
    import psycopg2
    import sqlalchemy

    server = EmbeddedServer(warehouse / "serving", port=port)
    url = server.url()
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    times: dict[str, list[float]] = {
        "lake_duckdb_rows": [],
        "serving_psycopg2_rows": [],
        "lake_duckdb_pandas": [],
        "serving_pandas_read_sql": [],
    }
    rows = 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = len(Warehouse(warehouse).read(PORT).fetchall())
        times["lake_duckdb_rows"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT * FROM hr.fact_overtime")
            served = len(cursor.fetchall())
        times["serving_psycopg2_rows"].append(time.perf_counter() - started)
        assert served == rows, (served, rows)
        started = time.perf_counter()
        Warehouse(warehouse).read(PORT).df()
        times["lake_duckdb_pandas"].append(time.perf_counter() - started)
        started = time.perf_counter()
        pd.read_sql("SELECT * FROM hr.fact_overtime", engine)
        times["serving_pandas_read_sql"].append(time.perf_counter() - started)
    engine.dispose()
    return {"rows": rows, **{name: statistics.median(values) for name, values in times.items()}}


def benchmark(records: int, rounds: int, port: int) -> dict[str, object]:
    data, generated = sources(records)
    walls: dict[str, list[float]] = {"without_serving": [], "with_serving": []}
    served_warehouse = None
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        project = project_copy(Path(scratch), data)
        try:
            for index in range(rounds):
                order = (False, True) if index % 2 == 0 else (True, False)
                for serving in order:
                    if serving and served_warehouse is not None:  # one server on the port: the last one is read
                        EmbeddedServer(served_warehouse / "serving", port=port).stop()
                    work = Path(scratch) / f"round{index}-{'served' if serving else 'plain'}"
                    wall, warehouse = run_hr(work, project, serving, port)
                    walls["with_serving" if serving else "without_serving"].append(wall)
                    if serving:
                        served_warehouse = warehouse
            assert served_warehouse is not None
            # reading is measured at 1M rows (as the goal is): 10M rows whole in Python take ~10 GB
            read = reading(served_warehouse, port, rounds) if records <= READ_AT_MOST else None
        finally:  # a failed round leaves no server behind
            for folder in Path(scratch).glob("round*-served/warehouse/serving"):
                EmbeddedServer(folder, port=port).stop()
    plain, served = statistics.median(walls["without_serving"]), statistics.median(walls["with_serving"])
    return {
        "records": records,
        "rounds": rounds,
        "generated": generated,
        "load": os.getloadavg(),
        "wall_s": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
        "median_without_s": round(plain, 2),
        "median_with_s": round(served, 2),
        "serving_adds": f"{(served - plain) / plain:+.1%}",
        "reading": read,
        **(
            {
                "psycopg2_vs_duckdb": round(read["serving_psycopg2_rows"] / read["lake_duckdb_rows"], 2),
                "read_sql_vs_duckdb_df": round(read["serving_pandas_read_sql"] / read["lake_duckdb_pandas"], 2),
            }
            if read
            else {}
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_688, help="Overtime records (10688: the sample's size).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=55490, help="Where the benchmark's serving database listens.")
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    result = benchmark(arguments.rows, arguments.rounds, arguments.port)
    print(json.dumps(result, indent=2, default=str) if arguments.json else result)


if __name__ == "__main__":
    main()
