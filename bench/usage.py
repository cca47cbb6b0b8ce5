"""Time usage: what recording reads costs each surface, and what asking who reads what costs.

    .venv/bin/python bench/usage.py --lines 1000000

- `Warehouse.read` of a small port, 200 times, with and without its line in the journal.
- What a consumer run adds: the columns its steps read of each input (finance's two products,
  parsed from their SQL and metric questions), and the count of each input's rows.
- Parsing people's statements to the serving database (`statement_reads`), per statement.
- Asking who reads HR's ports (`usage_of`, what `mesh usage`, `mesh diff` and the policies ask)
  and publishing the journal (`platform.mesh.port_reads`'s extract) over a journal of N lines, one
  per read (a busy mesh: N reads in the retention).

Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from platform_core.catalog.mesh import CATALOG_TABLES, Mesh, load_mesh, read_rows
from platform_core.catalog.product import write_extract
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.reads import input_columns
from platform_core.governance.readers import usage_of
from platform_core.serving.usage import statement_reads
from platform_core.storage.lake import Lake, LakeConfig
from platform_core.storage.usage import Read, UsageLog
from platform_core.storage.warehouse import Warehouse

PROJECT = Path(__file__).resolve().parent.parent


def median(work: Callable[[], object], times: int = 3) -> float:
    found = []
    for _ in range(times):
        start = time.perf_counter()
        work()
        found.append(time.perf_counter() - start)
    return statistics.median(found)


def line(label: str, seconds: float, unit: str = "s") -> None:
    value = seconds * 1000 if unit == "ms" else seconds * 1_000_000 if unit == "us" else seconds
    print(f"{label:<72} {value:10.3f} {unit}")


def reads(root: Path) -> None:
    warehouse = Warehouse(root)
    with warehouse.lake.connect(read_only=False) as con:
        con.execute("CREATE TEMP TABLE t AS SELECT range AS id, range % 7 AS day FROM range(1000)")
        warehouse.lake.publish(
            con,
            "bench.usage",
            {"port": "SELECT * FROM t"},
            version="1.0.0",
            contract="c",
            contract_document="{}",
            run_id="r",
        )
    warehouse.read("bench.usage.port").fetchall()  # the reading database, once per process

    def plain() -> None:
        for _ in range(200):
            warehouse.lake.read(warehouse.reader(), "bench.usage.port", None).fetchall()

    def recorded() -> None:
        for _ in range(200):
            warehouse.read("bench.usage.port").fetchall()

    def projected() -> None:
        for _ in range(200):
            warehouse.read("bench.usage.port", columns=["id"]).fetchall()

    line("Warehouse.read x200, without the journal (the lake's read alone)", median(plain))
    line("Warehouse.read x200, each recorded in the journal", median(recorded))
    line("Warehouse.read x200 with columns=[...], each recorded", median(projected))


def consumer_runs() -> None:
    mesh = load_mesh(PROJECT / "workspace.yaml")
    finance = [p for p in mesh.products if p.domain == "finance"]

    def parse() -> None:
        from platform_core.descriptors.lineage import _columns_read

        _columns_read.cache_clear()  # as a fresh run process parses them
        for product in finance:
            input_columns(product)

    line("columns read of every input, finance's two products (a run's parse)", median(parse), "ms")


def statements() -> None:
    views = {f"hr.port{i}": (f"hr.overtime.port{i}", [f"c{j}" for j in range(12)]) for i in range(40)}
    queries = [
        f"SELECT c1, c2, sum(c3) FROM port{i % 40} WHERE c4 > $1 AND c5 = $2 GROUP BY 1, 2 ORDER BY 3 DESC LIMIT $3"
        for i in range(500)
    ]

    def parse() -> None:
        from platform_core.descriptors.lineage import _columns_read

        _columns_read.cache_clear()
        for query in queries:
            statement_reads(query + f" -- {id(query)}", views, {})

    line("a person's statement parsed for its views and columns (per statement)", median(parse) / len(queries), "ms")


def journal(root: Path, lines: int) -> None:
    log = UsageLog(root / "usage")
    now = datetime.now(UTC)
    ports = ["overtime_analysis", "fact_overtime", "payroll_compensation", "team_oversight", "dim_entity"]
    batch = []
    for i in range(lines):
        batch.append(
            Read(
                now - timedelta(minutes=i % (60 * 24 * 90)),
                "serving",
                f"person{i % 50}",
                f"hr.overtime.{ports[i % len(ports)]}",
                ("entity_id", "period_id", "hours"),
                groups=("payroll",),
                reads=1 + i % 3,
                rows=100,
            )
        )
        if len(batch) == 100_000:
            log.record(batch)
            batch = []
    log.record(batch)
    index = MeshIndex.of_workspace(PROJECT / "workspace.yaml")
    size = sum(f.stat().st_size for f in (root / "usage").rglob("*.jsonl"))
    print(f"journal: {lines} lines, {size / 1e6:.1f} MB in {len(list((root / 'usage').iterdir()))} day folders")
    line(
        f"who reads hr.overtime over 90 days ({lines} lines)",
        median(lambda: usage_of(index, log, now - timedelta(days=90), "hr.overtime"), 1),
    )
    line(
        "who reads hr.overtime over 7 days (the days before are not opened)",
        median(lambda: usage_of(index, log, now - timedelta(days=7), "hr.overtime"), 1),
    )
    table = next(t for t in CATALOG_TABLES if t.name == "port_reads")
    with tempfile.TemporaryDirectory() as scratch, duckdb.connect() as con:
        line(
            f"the catalog's port_reads extract, written from the journal ({lines} lines)",
            median(lambda: write_extract(con, table, read_rows(Mesh((), (), usage=log)), Path(scratch)), 1),
        )
    with duckdb.connect() as con:
        glob = str(root / "usage" / "*" / "*.jsonl")
        line(
            "the same journal from DuckDB: reads per port and group (read_json)",
            median(
                lambda: con.execute(f"SELECT address, sum(reads) FROM read_json('{glob}') GROUP BY 1").fetchall(), 1
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000, help="Journal lines for the questions' timings.")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        Lake(LakeConfig.local(root))
        reads(root)
        consumer_runs()
        statements()
        journal(root, arguments.lines)


if __name__ == "__main__":
    main()
