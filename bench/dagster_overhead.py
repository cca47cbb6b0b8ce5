"""Time a run of HR Overtime at the shipped sample size, the platform next to plain Dagster.

    .venv/bin/python bench/dagster_overhead.py --rounds 3 --json

At the shipped size a run's cost is almost all Dagster's bookkeeping, so the platform is
compared with plain Dagster running the same definitions (bench/plain_dagster.py: the same 19
assets, 236 checks, metadata and resources, bodies that do no work). Each variant is a whole
`dagster asset materialize --select '*'` process with a fresh instance (the project's
dagster.yaml) and, for the platform, a fresh warehouse with the descriptor cache filled, as it
is after the platform's first load. Variants, alternating within each round:

- platform: HR end to end: every layer, every check, the publication;
- plain: the same definitions in plain Dagster, bodies that do no work;
- plain, doing the work: the same definitions, HR's bodies doing the product's work as
  bench/handwritten_hr.py does it (its SQL in a DuckDB file, the employee master by the
  product's own pandas function in the run's process, one query per check, the ports published
  to a DuckLake): what a team would write in plain Dagster without the platform;
- plain, one check per asset: the same assets, each asset's checks folded into one (fewer,
  richer check events: what that option would save);
- plain, no checks;
- platform and plain with the instance on tmpfs (/dev/shm): what SQLite's commits cost.

Prints the medians, the ratios and the machine's load. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from processes import PROJECT, fresh_instance, timed_materialize

TMPFS = Path("/dev/shm")
KEY = "bench-masking-key-not-a-secret"


def describe_hr(folder: Path) -> dict[str, Path]:
    """The HR location as JSON for plain Dagster: as built, with one check per asset, with none."""
    from plain_dagster import describe

    from platform_core.dagster.factory import build_domain
    from platform_core.settings import Settings

    settings = Settings.from_env({"MESH_WAREHOUSE": str(folder / "describe")})
    full = describe([build_domain("hr", settings)], folder / "plain.json")
    entries = json.loads(full.read_text(encoding="utf-8"))
    # plain Dagster has one check per rule: the not_null rules the platform runs within each
    # step's schema check are checks of their own there
    for entry in entries:
        if "checks" in entry:
            entry["checks"] += nullability_checks()
    full.write_text(json.dumps(entries), encoding="utf-8")
    one, none = [], []
    for entry in entries:
        if "checks" in entry:
            keys = [a["key"] for a in entry["assets"]]
            one.append(
                {
                    **entry,
                    "checks": [
                        {"name": "contract", "asset": k, "blocking": True, "description": "every rule of the step"}
                        for k in keys
                    ],
                }
            )
            none.append({**entry, "checks": []})
        else:
            one.append(entry)
            none.append(entry)
    (folder / "one_check.json").write_text(json.dumps(one), encoding="utf-8")
    (folder / "no_checks.json").write_text(json.dumps(none), encoding="utf-8")
    checks = {
        name: sum(len(e.get("checks", ())) for e in json.loads((folder / name).read_text()))
        for name in ("plain.json", "one_check.json", "no_checks.json")
    }
    print(f"checks: {checks}", file=sys.stderr)
    return {"plain": full, "one_check": folder / "one_check.json", "no_checks": folder / "no_checks.json"}


def nullability_checks() -> list[dict[str, object]]:
    from platform_core.dagster.factory import domain_directory
    from platform_core.descriptors.cache import load_domain_cached

    return [
        {
            "name": rule.check_name,
            "asset": list(product.key_path(step.name)),
            "blocking": True,
            "description": "no null",
        }
        for product in load_domain_cached(domain_directory("hr")).products
        for _, step in product.steps
        for rule in step.nullability
    ]


def run(kind: str, described: dict[str, Path], scratch: Path) -> float:
    home = fresh_instance(TMPFS if kind.endswith("tmpfs") and TMPFS.is_dir() else scratch)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore", "MESH_MASKING_KEY": KEY}
    if kind.startswith("platform"):
        # a fresh warehouse; the descriptors cached in domains/hr/__pycache__ by the first load
        env["MESH_WAREHOUSE"] = tempfile.mkdtemp(prefix="warehouse-", dir=scratch)
        arguments = ["-m", "domains.hr.definitions", "--select", "*"]
    else:
        env["PLAIN_DAGSTER_DESCRIBED"] = str(described[kind.removesuffix("_tmpfs").removesuffix("_work")])
        arguments = ["-f", str(PROJECT / "bench" / "plain_dagster.py"), "--select", "*"]
    if kind == "plain_work":  # a fresh database and lake, as the platform's warehouse
        fresh = Path(tempfile.mkdtemp(prefix="plain-work-", dir=scratch))
        work = {"sources": str(PROJECT / "domains" / "hr" / "data"), "database": str(fresh / "hr.duckdb")}
        env["PLAIN_DAGSTER_WORK"] = json.dumps({**work, "lake": str(fresh / "lake"), "key": KEY})
    try:
        return timed_materialize(arguments, PROJECT, env, kind)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="One JSON line instead of a table.")
    arguments = parser.parse_args()
    kinds = ["platform", "plain", "plain_work", "one_check", "no_checks", "platform_tmpfs", "plain_tmpfs"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        described = describe_hr(scratch)
        walls: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(arguments.rounds):
            for kind in kinds:
                walls[kind].append(run(kind, described, scratch))
    medians = {kind: round(statistics.median(values), 2) for kind, values in walls.items()}
    result = {
        "benchmark": "dagster_overhead",
        "rounds": arguments.rounds,
        "medians_s": medians,
        "ratio_platform_to_plain": round(medians["platform"] / medians["plain"], 2),
        "ratio_platform_to_plain_doing_the_work": round(medians["platform"] / medians["plain_work"], 2),
        "ratio_platform_to_plain_tmpfs": round(medians["platform_tmpfs"] / medians["plain_tmpfs"], 2),
        "gain_one_check_per_asset_s": round(medians["plain"] - medians["one_check"], 2),
        "gain_no_checks_s": round(medians["plain"] - medians["no_checks"], 2),
        "gain_tmpfs_plain_s": round(medians["plain"] - medians["plain_tmpfs"], 2),
        "walls": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    if arguments.json:
        print(json.dumps(result))
    else:
        for kind in kinds:
            print(f"{kind:<16} {medians[kind]:6.2f} s   {walls[kind]}")
        print(f"platform / plain Dagster: {result['ratio_platform_to_plain']}")
        print(f"platform / plain Dagster doing the work: {result['ratio_platform_to_plain_doing_the_work']}")


if __name__ == "__main__":
    main()
