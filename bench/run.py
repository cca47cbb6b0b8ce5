"""Time HR Overtime end to end at N records: the platform next to the same work written by hand.

    .venv/bin/python bench/run.py --rows 1000000 --rounds 3 --json [--profile]

The sources (bench/hr_sources.py) are generated once per N into the temporary folder and
kept there for later runs. Then, in each round, as fresh processes, in an order that rotates
from round to round:

- platform: `dagster asset materialize -m domains.hr.definitions --select '*'` in a copy of
  the project holding only the hr domain (its data/ the generated CSVs), with a new Dagster
  instance (the project's dagster.yaml), a new warehouse and a masking key: every layer, the 236 checks, the publication
  of the 9 ports and the masked copy, one lake commit;
- handwritten_memory: bench/handwritten_hr.py on an in-memory DuckDB;
- handwritten_file: the same on a DuckDB file (the platform's compute database is a file);
- handwritten_pandas (with --same-work): the in-memory script with the employee master cleaned
  by the product's own pandas function (transforms.clean_employees), as the product does it,
  where the other scripts clean it in SQL.

With MESH_COMPUTE_MEMORY set, the platform's runs and both scripts get the same memory budget
(DuckDB's memory_limit): what each does within the same memory. With --platform-memory, only
the platform's runs get one, the scripts as they are written: the goals as stated.

For each: wall time (from the process's start to its exit, interpreter start included), CPU
seconds (user + system of the process and the processes it waited for, from wait4), the peak
RSS of its largest process (wait4's ru_maxrss) and the peak of the sum of its processes' RSS
(sampled every 50 ms from /proc; shared pages counted in each process). Medians over the
rounds. The lakes of the first round are read back and compared port by port (rows, and a
fingerprint of names, types and values, the load time left out). With --profile, one more
untimed run of the platform's product body (`run_product`, without Dagster) in a fresh process,
with the platform's memory budget, times its parts: binding, staging, the wait for a pandas
step's result, checks, checksums, publication. Not part of the test
suite: timings depend on the machine; its load is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from handwritten_hr import lake_fingerprints  # noqa: E402

PYTHON = str(Path(sys.executable))
DAGSTER = str(Path(sys.executable).parent / "dagster")
KEY = "bench-masking-key-not-a-secret"
COMPUTE_MEMORY = "MESH_COMPUTE_MEMORY"
PLATFORM_MEMORY = "BENCH_PLATFORM_MEMORY"  # set by --platform-memory
VARIANTS = ("platform", "handwritten_memory", "handwritten_file")
# --same-work: the in-memory script with the employee master cleaned by the product's own pandas
# function, as the product does it (the other scripts clean it in SQL)
SAME_WORK = "handwritten_pandas"
SCRIPTS = ("handwritten_memory", "handwritten_file", SAME_WORK)
WORKSPACE = """load_from:
  - python_module:
      module_name: domains.hr.definitions
      location_name: hr
      working_directory: .
"""
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

PROFILE = r"""
import json, os, sys, time
from collections import defaultdict
from pathlib import Path
started = time.perf_counter()
import duckdb
from platform_core.descriptors.loader import load_domain
from platform_core.execution import products, steps
from platform_core.quality import audit, pandera_executor
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
spent, staged = defaultdict(float), {}

def timed(module, name, label):
    original = getattr(module, name, None)
    if original is None:  # the platform changed: time what is there
        return
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds = time.perf_counter() - start
            spent[label] += seconds
            if name == "stage":
                staged[args[2].name] = round(seconds, 3)
    setattr(module, name, wrapper)

for name, label in [("bind_dependencies", "bind inputs"), ("stage", "stage (the step's SQL or pandas)"),
                    ("audit", "audit (checks)"), ("measure", "measure (row count, port checksum)"),
                    ("publish", "publish (one lake commit)"), ("promote", "promote staging tables")]:
    timed(products, name, label)
for name, label in [("schema_result", "  schema checks"), ("run_sql_rules", "  SQL rules"),
                    ("with_sample", "  samples of failing rows")]:
    timed(audit, name, label)
timed(pandera_executor, "run_pandera_rules", "  pandera rules (pandas step)")  # imported when a pandas step is audited
timed(steps.Transform, "finish", "a pandas step's result taken in (waited for)")
imported = time.perf_counter() - started
product = load_domain(Path("domains/hr")).products[0]
warehouse = Warehouse.from_settings(Settings.from_env())
database = warehouse.database("hr")
database.parent.mkdir(parents=True, exist_ok=True)
limit = os.environ.get("MESH_COMPUTE_MEMORY")  # the budget the platform's runs get, as they get it
con = duckdb.connect(str(database), config={"memory_limit": limit} if limit else {})
con.execute("SET TimeZone = 'UTC'")
warehouse.lake.attach(con)
start = time.perf_counter()
outcome = products.run_product(con, warehouse.lake, product, build={s.name for _, s in product.steps},
                               input_snapshot=warehouse.lake.current_snapshot(con), run_id="profile",
                               masking_key=os.environ["MESH_MASKING_KEY"])
total = time.perf_counter() - start
assert outcome.built, outcome.summary(outcome.failed)
print(json.dumps({"imports_s": round(imported, 2), "run_product_s": round(total, 2),
                  "parts_s": {k: round(v, 2) for k, v in spent.items()}, "stage_by_step_s": staged,
                  "checks": sum(len(s.results) for s in outcome.steps)}))
"""


# --------------------------------------------------------------------------------------
# Sources and the project copy
# --------------------------------------------------------------------------------------


def sources(rows: int) -> tuple[Path, dict[str, object]]:
    """The generated CSVs for `rows`, made the first time and kept in the temporary folder."""
    folder = Path(tempfile.gettempdir()) / "hr_bench_sources" / f"rows_{rows}"
    done = folder / "generated.json"
    if done.is_file():
        return folder, {**json.loads(done.read_text(encoding="utf-8")), "cached": True}
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [PYTHON, str(BENCH / "hr_sources.py"), "--rows", str(rows), "--out", str(partial), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    (partial / "generated.json").write_text(result.stdout, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder, {**json.loads(result.stdout), "cached": False}


def project_copy(root: Path, data: Path, ephemeral: list[str]) -> Path:
    """A project of one domain, hr, whose data/ holds the generated files (hard links when possible),
    with the `ephemeral` layers of its product marked so."""
    project = root / "project"
    (project / "domains").mkdir(parents=True)
    (project / "workspace.yaml").write_text(WORKSPACE, encoding="utf-8")
    shutil.copy2(PROJECT / "domains" / "__init__.py", project / "domains" / "__init__.py")
    shutil.copytree(
        PROJECT / "domains" / "hr", project / "domains" / "hr", ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    if ephemeral:
        descriptor = project / "domains" / "hr" / "products" / "overtime" / "product.yaml"
        text = descriptor.read_text(encoding="utf-8")
        assert "\nlayers:\n" in text, "the HR descriptor's layers moved"
        descriptor.write_text(text.replace("\nlayers:\n", f"\nlayers:\n  ephemeral: [{', '.join(ephemeral)}]\n", 1))
    (project / "domains" / "hr" / "data").mkdir()
    for file in data.glob("*.csv"):
        target = project / "domains" / "hr" / "data" / file.name
        try:
            os.link(file, target)
        except OSError:
            shutil.copy2(file, target)
    return project


# --------------------------------------------------------------------------------------
# Measuring one process
# --------------------------------------------------------------------------------------


def tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants, summed."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm", encoding="ascii") as statm:
                total += int(statm.read().split()[1]) * PAGE_KB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
    return total


def measured(command: list[str], cwd: Path, env: dict[str, str], logs: Path) -> dict[str, object]:
    with (
        open(logs.with_suffix(".out"), "w", encoding="utf-8") as out,
        open(logs.with_suffix(".err"), "w", encoding="utf-8") as err,
    ):
        started, started_at = time.perf_counter(), time.time()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        peak, finished = [0], threading.Event()

        def sample() -> None:
            while not finished.is_set():
                peak[0] = max(peak[0], tree_rss_kb(process.pid))
                finished.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        finished.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    stdout = logs.with_suffix(".out").read_text(encoding="utf-8")
    stderr = logs.with_suffix(".err").read_text(encoding="utf-8")
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-4000:]}\n{stdout[-2000:]}")
    return {
        "started_at": started_at,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "tree_rss_mb": peak[0] / 1024,
        "stdout": stdout,
        "stderr": stderr,
    }


def seconds_of(text: str) -> float:
    """Dagster's duration ("850ms", "8.95s", "1m 5s", "1h 2m")."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", text))


def run_platform(work: Path, project: Path) -> tuple[dict[str, object], Path]:
    home, warehouse = work / "dagster_home", work / "warehouse"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # the instance the platform ships
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_")}
    env.update({"DAGSTER_HOME": str(home), "MESH_WAREHOUSE": str(warehouse), "MESH_MASKING_KEY": KEY})
    if COMPUTE_MEMORY in os.environ:  # the compute database's memory limit, as the deployment sets it
        env[COMPUTE_MEMORY] = os.environ[COMPUTE_MEMORY]
    if PLATFORM_MEMORY in os.environ:  # --platform-memory: the platform's runs only
        env[COMPUTE_MEMORY] = os.environ[PLATFORM_MEMORY]
    result = measured(
        [DAGSTER, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*"],
        project,
        env,
        work / "platform",
    )
    log = result.pop("stdout") + result.pop("stderr")
    evaluations = re.findall(r"ASSET_CHECK_EVALUATION - Asset check '([^']+)' on '([^']+)' (passed|did not pass)", log)
    contract = [(name, asset, outcome) for name, asset, outcome in evaluations if name != "policies"]
    step = re.search(r'Finished execution of step "hr__overtime" in ([^.]+(?:\.\d+)?[a-z]*)', log)
    published = re.search(r"published as lake snapshot (\d+)", log)
    if not published:
        raise SystemExit(f"the platform did not publish:\n{log[-4000:]}")
    result["phases_s"] = phases(home, result["started_at"], result["wall_s"])
    result.update(
        {
            "checks": {
                "evaluated": len(contract),
                "passed": sum(o == "passed" for *_, o in contract),
                "failed": [f"{asset.split('/')[-1]}.{name}" for name, asset, o in contract if o != "passed"],
                "policies_checks": len(evaluations) - len(contract),
            },
            "step_s": seconds_of(step[1]) if step else None,
        }
    )
    return result, warehouse / "lake"


def phases(home: Path, started_at: float, wall: float) -> dict[str, float] | None:
    """Where the platform's wall went, from the run's event log in the Dagster instance: before the
    run's first event (interpreter, imports, definitions, governance), planning (one event per
    asset and check), the step until its first result (the product's work), reporting its results
    (one event per output, materialization and check), and what follows the run."""
    logs = [f for f in (home / "history" / "runs").glob("*.db") if f.name != "index.db"]
    if len(logs) != 1:
        return None
    with sqlite3.connect(logs[0]) as con:
        events = con.execute("SELECT dagster_event_type, timestamp FROM event_logs ORDER BY id").fetchall()

    def at(kind: str) -> float:  # the first event of the kind, in seconds since the process started
        stamp = next(t for k, t in events if k == kind)
        return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() - started_at

    first, start = at("ASSET_MATERIALIZATION_PLANNED"), at("PIPELINE_START")
    step, output, done = at("STEP_START"), at("STEP_OUTPUT"), at("STEP_SUCCESS")
    return {
        "before_run": round(first, 2),
        "planning": round(start - first, 2),
        "run_start": round(step - start, 2),
        "step_work": round(output - step, 2),
        "step_reporting": round(done - output, 2),
        "after_step": round(wall - done, 2),
        "events": len(events),
    }


def run_handwritten(
    work: Path, data: Path, database: str, label: str, employees: str = "sql"
) -> tuple[dict[str, object], Path]:
    lake = work / f"{label}_lake"
    env = {**os.environ, "MESH_MASKING_KEY": KEY}
    result = measured(
        [
            PYTHON,
            str(BENCH / "handwritten_hr.py"),
            "--sources",
            str(data),
            "--database",
            database,
            "--lake",
            str(lake),
            "--json",
            "--no-fingerprint",
            "--employees",
            employees,
            # the same memory budget as the platform's runs, when one is set
            *(["--memory-limit", os.environ[COMPUTE_MEMORY]] if os.environ.get(COMPUTE_MEMORY) else []),
        ],
        PROJECT,
        env,
        work / label,
    )
    report = json.loads(result.pop("stdout").strip().splitlines()[-1])
    result.pop("stderr")
    result.update(
        {
            "checks": {k: report["checks"][k] for k in ("evaluated", "passed", "failed")},
            "parts_s": report["seconds"],
            "tables": report["tables"],
        }
    )
    return result, lake


# --------------------------------------------------------------------------------------


def benchmark(
    rows: int, rounds: int, profile: bool, ephemeral: list[str], same_work: bool = False
) -> dict[str, object]:
    variants = (*VARIANTS, SAME_WORK) if same_work else VARIANTS
    data, generated = sources(rows)
    load_before = os.getloadavg()
    samples: dict[str, list[dict[str, object]]] = {v: [] for v in variants}
    comparison: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="hr_bench_") as scratch:
        root = Path(scratch)
        project = project_copy(root, data, ephemeral)
        for round_ in range(rounds):
            turn = round_ % len(variants)
            order = variants[turn:] + variants[:turn]  # each variant goes first in turn
            for variant in order:
                work = root / f"round{round_}_{variant}"
                work.mkdir()
                if variant == "platform":
                    result, lake = run_platform(work, project)
                else:
                    database = str(work / "hr.duckdb") if variant == "handwritten_file" else ":memory:"
                    employees = "pandas" if variant == SAME_WORK else "sql"
                    result, lake = run_handwritten(work, data, database, variant, employees)
                samples[variant].append(result)
                if round_ == 0:
                    comparison[variant] = lake_fingerprints(lake)
                shutil.rmtree(work)
        profiled = None
        if profile:
            work = root / "profile"
            env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_")}
            env.update({"MESH_WAREHOUSE": str(work / "warehouse"), "MESH_MASKING_KEY": KEY})
            if PLATFORM_MEMORY in os.environ or COMPUTE_MEMORY in os.environ:  # the platform's runs' budget
                env[COMPUTE_MEMORY] = os.environ.get(PLATFORM_MEMORY) or os.environ[COMPUTE_MEMORY]
            work.mkdir()
            try:
                result = measured([PYTHON, "-c", PROFILE], project, env, work / "profile")
                profiled = json.loads(result["stdout"].strip().splitlines()[-1])
                profiled["wall_s"] = round(result["wall_s"], 2)
            except SystemExit as error:  # the timings stand without it
                profiled = {"error": str(error)[-2000:]}
    load_after = os.getloadavg()

    def median(variant: str, measure: str) -> float:
        return statistics.median(float(s[measure]) for s in samples[variant])

    summary = {
        v: {
            "wall_s": round(median(v, "wall_s"), 2),
            "cpu_s": round(median(v, "cpu_s"), 2),
            "rss_mb": round(median(v, "rss_mb")),
            "tree_rss_mb": round(median(v, "tree_rss_mb")),
            "walls": [round(s["wall_s"], 2) for s in samples[v]],
            "cpus": [round(s["cpu_s"], 2) for s in samples[v]],
            "rss": [round(s["rss_mb"]) for s in samples[v]],
            "tree_rss": [round(s["tree_rss_mb"]) for s in samples[v]],
        }
        for v in variants
    }
    summary["platform"]["step_s"] = [s["step_s"] for s in samples["platform"]]
    summary["platform"]["phases_s"] = [s["phases_s"] for s in samples["platform"]]
    for v in variants[1:]:
        summary[v]["parts_s"] = samples[v][0]["parts_s"]
    fastest = min(VARIANTS[1:], key=lambda v: summary[v]["wall_s"])
    platform_ports, ports_match = comparison["platform"], True
    for v in variants[1:]:
        ports_match &= comparison[v] == platform_ports
    return {
        "benchmark": "hr_overtime",
        "rows": rows,
        "ephemeral_layers": ephemeral,
        "compute_memory": os.environ.get(COMPUTE_MEMORY),
        "platform_memory": os.environ.get(PLATFORM_MEMORY) or os.environ.get(COMPUTE_MEMORY),
        "employees": generated["employees"],
        "rounds": rounds,
        "sources": {k: generated[k] for k in ("records", "duplicates", "seconds", "cached")},
        "variants": summary,
        "ratios": {
            "fastest_handwritten": fastest,
            "wall_platform_vs_fastest": round(summary["platform"]["wall_s"] / summary[fastest]["wall_s"], 2),
            "cpu_platform_vs_fastest": round(summary["platform"]["cpu_s"] / summary[fastest]["cpu_s"], 2),
            "rss_platform_vs_file": round(summary["platform"]["rss_mb"] / summary["handwritten_file"]["rss_mb"], 2),
            "tree_rss_platform_vs_file": round(
                summary["platform"]["tree_rss_mb"] / summary["handwritten_file"]["tree_rss_mb"], 2
            ),
            **(
                {"wall_platform_vs_same_work": round(summary["platform"]["wall_s"] / summary[SAME_WORK]["wall_s"], 2)}
                if same_work
                else {}
            ),
        },
        "checks": {v: samples[v][0]["checks"] for v in variants},
        "outputs_match": ports_match,
        "ports": {
            port: {
                "rows": facts["rows"],
                "platform": facts["fingerprint"],
                **{v: comparison[v].get(port, {}).get("fingerprint") for v in variants[1:]},
            }
            for port, facts in platform_ports.items()
        },
        "tables": samples["handwritten_memory"][0]["tables"],
        "profile": profiled,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "platform_tree": platform_tree(),
    }


def platform_tree() -> dict[str, object]:
    """The commit measured, and the platform files changed on top of it (the working tree is what runs)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "platform_core", "domains/hr").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "changed": [line[3:] for line in changed]}


def table(result: dict[str, object]) -> str:
    lines = [
        f"HR Overtime, {result['rows']:,} overtime rows, {result['employees']:,} employees, "
        f"medians of {result['rounds']} round(s); load {result['load_before']} -> {result['load_after']}; "
        f"the platform's memory limit {result['platform_memory'] or 'none'}, the scripts' "
        f"{result['compute_memory'] or 'none'}",
        f"{'variant':<20}{'wall s':>9}{'cpu s':>9}{'RSS MB':>9}{'tree MB':>9}   checks",
    ]
    for v, s in result["variants"].items():
        checks = result["checks"][v]
        lines.append(
            f"{v:<20}{s['wall_s']:>9}{s['cpu_s']:>9}{s['rss_mb']:>9}{s['tree_rss_mb']:>9}   "
            f"{checks['passed']}/{checks['evaluated']} passed"
        )
    r = result["ratios"]
    lines.append(
        f"platform / {r['fastest_handwritten']}: wall {r['wall_platform_vs_fastest']}x, cpu "
        f"{r['cpu_platform_vs_fastest']}x; RSS platform / file script {r['rss_platform_vs_file']}x "
        f"(tree {r['tree_rss_platform_vs_file']}x); outputs match: {result['outputs_match']}"
    )
    split = result["variants"]["platform"]["phases_s"][0]
    if split:
        lines.append(
            "platform's wall (first round, from its event log): "
            + ", ".join(f"{k} {v}" for k, v in split.items() if k != "events")
            + f" ({split['events']} events)"
        )
    if result["profile"] and "error" in result["profile"]:
        lines.append(f"profile failed: {result['profile']['error'][-300:]}")
    elif result["profile"]:
        p = result["profile"]
        lines.append(
            f"platform's run_product without Dagster: {p['run_product_s']} s: "
            + ", ".join(f"{k.strip()} {v}" for k, v in p["parts_s"].items())
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also time the parts of the platform's product run")
    parser.add_argument("--json", action="store_true", help="one JSON line per size on stdout")
    parser.add_argument(
        "--platform-memory",
        help="MESH_COMPUTE_MEMORY for the platform's runs only, the scripts unbudgeted: each goal as stated",
    )
    parser.add_argument(
        "--same-work",
        action="store_true",
        help="also the in-memory script cleaning the employee master with the product's pandas function",
    )
    parser.add_argument(
        "--ephemeral",
        nargs="*",
        default=[],
        choices=("bronze", "silver", "gold"),
        help="HR's layers kept only for the run",
    )
    arguments = parser.parse_args()
    if arguments.platform_memory:
        os.environ[PLATFORM_MEMORY] = arguments.platform_memory
    for rows in arguments.rows:
        result = benchmark(rows, arguments.rounds, arguments.profile, arguments.ephemeral, arguments.same_work)
        print(table(result), file=sys.stderr)
        if arguments.json:
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
