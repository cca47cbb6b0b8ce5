"""Time the lake: a product's publication, reads, time travel, and commits from several processes.

    .venv/bin/python bench/lake.py --rows 1000000 --writers 3 --commits 20

A product of two ports (a fact of N rows and its daily aggregate) is published into a new
local lake, once and then again, next to the same two tables written as plain Parquet files
(the floor: what any publication has to write). Then reads, through `Warehouse.read`
(current version, and the previous one by snapshot), and W processes committing C small
publications each at the same moment. Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import duckdb

from platform_core.storage.lake import Lake, LakeConfig
from platform_core.storage.warehouse import Warehouse

FACT = """SELECT range AS id, 'E' || (range % 5000) AS employee_id,
                 DATE '2025-10-01' + (range % 396)::INTEGER AS work_date,
                 ((range % 64) / 4)::DECIMAL(6,2) AS hours, ((range % 9000) / 3.0)::DECIMAL(14,2) AS amount
          FROM range({rows})"""
DAILY = "SELECT work_date, count(*) AS records, sum(amount) AS amount FROM fact GROUP BY work_date"


def timed(label: str, work) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:8.3f} s")
    return seconds


def publish(lake: Lake, con: duckdb.DuckDBPyConnection, run: str) -> None:
    lake.publish(
        con,
        "bench.product",
        {"fact": "SELECT * FROM fact", "daily": DAILY},
        version="1.0.0",
        contract="sha256:bench",
        contract_document="{}",
        run_id=run,
    )


def commit_many(root: str, writer: int, commits: int, start: float) -> None:
    lake = Lake(LakeConfig.local(Path(root)))
    time.sleep(max(0.0, start - time.time()))
    with lake.connect(read_only=False) as con:
        con.execute("CREATE TEMP TABLE small AS SELECT range AS n FROM range(1000)")
        for i in range(commits):
            lake.publish(
                con,
                f"writer{writer}.load",
                {"numbers": "SELECT * FROM small"},
                version="1.0.0",
                contract="sha256:bench",
                contract_document="{}",
                run_id=f"{writer}-{i}",
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        warehouse = Warehouse(root)
        lake = warehouse.lake
        with lake.connect(read_only=False) as con:
            con.execute(f"CREATE TABLE fact AS {FACT.format(rows=args.rows)}")
            timed(
                f"Parquet files only, 2 ports ({args.rows:,} + daily rows)",
                lambda: (
                    con.execute(f"COPY fact TO '{root}/fact.parquet' (FORMAT parquet, COMPRESSION zstd)"),
                    con.execute(f"COPY ({DAILY}) TO '{root}/daily.parquet' (FORMAT parquet, COMPRESSION zstd)"),
                ),
            )
            timed("lake: first publication (creates the tables)", lambda: publish(lake, con, "first"))
            timed("lake: next publication (replaces both ports, one commit)", lambda: publish(lake, con, "second"))
        previous = warehouse.publications("bench.product")[0].snapshot_id
        timed("read: first Warehouse.read in this process", lambda: warehouse.read("bench.product.daily").fetchall())
        timed(
            "read: Warehouse.read of the daily port, 100 times",
            lambda: [warehouse.read("bench.product.daily").fetchall() for _ in range(100)],
        )
        timed(
            "read: count(*) of the fact, current version",
            lambda: warehouse.read("bench.product.fact").count("*").fetchall(),
        )
        timed(
            "read: count(*) of the fact at the previous snapshot",
            lambda: warehouse.read("bench.product.fact", at=previous).count("*").fetchall(),
        )
        start = time.time() + 2
        processes = [
            multiprocessing.Process(target=commit_many, args=(str(root), w, args.commits, start))
            for w in range(args.writers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        landed = sum(len(warehouse.publications(f"writer{w}.load")) for w in range(args.writers))
        print(
            f"{args.writers} processes x {args.commits} commits at once: {landed} landed, "
            f"{time.time() - start:.1f} s from the common start"
        )


if __name__ == "__main__":
    main()
