"""What a metric costs against the same question written by hand, and a `mesh metrics query`.

    .venv/bin/python bench/metrics.py --rows 10000000 --rounds 5 --json

For N records (bench/hr_sources.py, kept between runs as bench/run.py keeps them), HR is
materialized once (serving off) into a scratch warehouse. Then, on one DuckDB connection to that
lake, alternating and each timed to the last row fetched: the SQL the metric compiler writes for a
question, and the SQL a person would write by hand for it, over the same lake table of
`hr.fact_overtime`. Three questions: overtime cost by entity and month (one filter), cost per
employee paid by department and quarter (a ratio of two metrics, a join to dim_employee), and the
hours, approved hours and banked hours by reason (three metrics, a derived one). Both must give the
same rows. Then the wall time of `mesh metrics query overtime_cost --by entity_id --grain month` in
a fresh process, as a person runs it. Medians; the machine's load is printed. Figures go to
docs/benchmarks.md, whatever they are.
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
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(PROJECT))

from run import DAGSTER, KEY, measured, project_copy, sources  # noqa: E402

from platform_core.catalog.metrics import MetricsOfMesh  # noqa: E402
from platform_core.descriptors.metric_sql import Question  # noqa: E402
from platform_core.storage.warehouse import Warehouse  # noqa: E402

MESH = str(Path(sys.executable).parent / "mesh")
QUESTIONS = {
    "cost_by_entity_month": (
        Question(("overtime_cost",), ("entity_id",), "month"),
        """SELECT CAST(date_trunc('month', work_date) AS DATE) AS metric_time, entity_id,
                  CAST(sum(amount) AS DECIMAL(38, 2)) AS overtime_cost
           FROM fact WHERE status = 'approved' GROUP BY ALL ORDER BY ALL""",
    ),
    "cost_per_employee_by_department_quarter": (
        Question(("cost_per_employee",), ("department",), "quarter"),
        """SELECT CAST(date_trunc('quarter', f.work_date) AS DATE) AS metric_time, e.department,
                  CAST(round(CAST(sum(f.amount) FILTER (f.status = 'approved')
                       / count(DISTINCT f.employee_id) FILTER (f.status = 'approved' AND f.amount > 0)
                       AS DECIMAL(38, 10)), 2) AS DECIMAL(38, 2)) AS cost_per_employee
           FROM fact AS f LEFT JOIN employees AS e USING (employee_id)
           WHERE f.status = 'approved' GROUP BY ALL ORDER BY ALL""",
    ),
    "hours_by_reason": (
        Question(("overtime_hours", "approved_hours", "banked_hours"), ("reason_code",)),
        """SELECT reason_code,
                  CAST(sum(hours) FILTER (status <> 'rejected') AS DECIMAL(38, 2)) AS overtime_hours,
                  CAST(sum(hours) FILTER (status = 'approved') AS DECIMAL(38, 2)) AS approved_hours,
                  CAST(sum(hours) FILTER (status = 'approved')
                       - coalesce(sum(hours) FILTER (status = 'approved' AND rate_multiplier > 0), 0)
                       AS DECIMAL(38, 2)) AS banked_hours
           FROM fact WHERE status <> 'rejected' GROUP BY ALL ORDER BY ALL""",
    ),
}


def build(work: Path, project: Path) -> tuple[float, Path]:
    """HR materialized once, serving off; its wall time and its warehouse."""
    home, warehouse = work / "dagster_home", work / "warehouse"
    home.mkdir(parents=True)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_")}
    env.update(
        {"DAGSTER_HOME": str(home), "MESH_WAREHOUSE": str(warehouse), "MESH_MASKING_KEY": KEY, "MESH_SERVING": "off"}
    )
    result = measured(
        [DAGSTER, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*"], project, env, work / "run"
    )
    return float(result["wall_s"]), warehouse


def queries(warehouse: Path, rounds: int) -> dict[str, object]:
    """Compiled against hand-written SQL, per question, on one connection to the lake."""
    metrics = MetricsOfMesh.of_workspace(PROJECT / "workspace.yaml")
    lake = Warehouse(warehouse)
    con = lake.reader()
    con.execute("CREATE TEMP VIEW fact AS " + lake.read("hr.overtime.fact_overtime").sql_query())
    con.execute("CREATE TEMP VIEW employees AS " + lake.read("hr.overtime.dim_employee").sql_query())
    names = {"hr.overtime.fact_overtime": "fact", "hr.overtime.dim_employee": "employees"}
    from sqlglot import exp

    found: dict[str, object] = {}
    for name, (question, by_hand) in QUESTIONS.items():
        _, compiled = metrics.compile(question, lambda address: exp.to_table(names[address]), "duckdb")
        # the same figures (both round the ratio at ten decimals first, as decimals do, then at two)
        assert con.execute(compiled.sql).fetchall() == con.execute(by_hand).fetchall(), name
        times: dict[str, list[float]] = {"compiled": [], "by_hand": []}
        for index in range(rounds):
            order = ("compiled", "by_hand") if index % 2 == 0 else ("by_hand", "compiled")
            for which in order:
                started = time.perf_counter()
                con.execute(compiled.sql if which == "compiled" else by_hand).fetchall()
                times[which].append(time.perf_counter() - started)
        compiled_s, by_hand_s = statistics.median(times["compiled"]), statistics.median(times["by_hand"])
        found[name] = {
            "compiled_s": round(compiled_s, 4),
            "by_hand_s": round(by_hand_s, 4),
            "ratio": round(compiled_s / by_hand_s, 2),
        }
    con.close()
    return found


def cli(warehouse: Path, rounds: int) -> dict[str, object]:
    """`mesh metrics query` as a person runs it: a fresh process each time."""
    env = {**os.environ, "MESH_WAREHOUSE": str(warehouse)}
    walls = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(
            [MESH, "metrics", "query", "overtime_cost", "--by", "entity_id", "--grain", "month"],
            cwd=PROJECT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        walls.append(time.perf_counter() - started)
    return {"wall_s": [round(w, 2) for w in walls], "median_s": round(statistics.median(walls), 2)}


def benchmark(records: int, rounds: int) -> dict[str, object]:
    data, generated = sources(records)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as scratch:
        project = project_copy(Path(scratch), data)
        built, warehouse = build(Path(scratch) / "hr", project)
        return {
            "records": records,
            "rounds": rounds,
            "generated": generated,
            "load": os.getloadavg(),
            "build_s": round(built, 2),
            "queries": queries(warehouse, rounds),
            "mesh_metrics_query": cli(warehouse, rounds),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_688, help="Overtime records (10688: the sample's size).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    result = benchmark(arguments.rows, arguments.rounds)
    print(json.dumps(result, indent=2, default=str) if arguments.json else result)


if __name__ == "__main__":
    main()
