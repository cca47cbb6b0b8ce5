"""Time a run of one small asset in a domain of 10 products and in one of 1000, next to plain Dagster.

    .venv/bin/python bench/single_asset.py --products 10 1000 --rounds 3 --json

A domain of N products is scaffolded as in bench/definitions_load.py (the `simple` template),
then one bronze step of one product is materialized: `dagster asset materialize -m
domains.d00.definitions --select d00/p0000/raw_records` as a whole process with a fresh
instance (the project's dagster.yaml), the warehouse's descriptor cache filled by a first,
untimed run. Next to it, the same run of the same definitions in plain Dagster
(bench/plain_dagster.py, an empty body). The whole location loads either way: Dagster builds
every asset of a code location in the process that runs it. Prints medians, the ratio of the
largest domain to the smallest, and the machine's load. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from definitions_load import forget_cached_descriptors, make_mesh
from plain_dagster import describe
from processes import PROJECT, fresh_instance, timed_materialize

SELECTION = "d00/p0000/raw_records"


def run(root: Path, plain: Path | None) -> float:
    home = fresh_instance(root)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MESH_WAREHOUSE": str(root / "warehouse"),
        "PYTHONPATH": str(root),
        "PYTHONWARNINGS": "ignore",
    }
    if plain is None:
        arguments = ["-m", "domains.d00.definitions", "--select", SELECTION]
    else:
        env["PLAIN_DAGSTER_DESCRIBED"] = str(plain)
        arguments = ["-f", str(PROJECT / "bench" / "plain_dagster.py"), "--select", SELECTION]
    try:
        return timed_materialize(arguments, root, env, "the run")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(products: int, rounds: int) -> dict[str, object]:
    from platform_core.dagster.factory import build_domain
    from platform_core.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        make_mesh(root, products, 1)
        settings = Settings(warehouse_root=root / "describe", workspace=root / "workspace.yaml")
        plain = describe([build_domain(root / "domains" / "d00", settings)], root / "plain.json")
        forget_cached_descriptors(root)
        first = run(root, None)  # validates the descriptors and fills the cache
        walls: dict[str, list[float]] = {"platform": [], "plain": []}
        for _ in range(rounds):
            walls["platform"].append(run(root, None))
            walls["plain"].append(run(root, plain))
    medians = {kind: statistics.median(values) for kind, values in walls.items()}
    return {
        "products": products,
        "platform_s": round(medians["platform"], 2),
        "plain_dagster_s": round(medians["plain"], 2),
        "first_run_s": round(first, 2),
        "walls": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="One JSON line instead of a table.")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    sizes = [measure(products, arguments.rounds) for products in arguments.products]
    smallest, largest = sizes[0], sizes[-1]
    result = {
        "benchmark": "single_asset",
        "rounds": arguments.rounds,
        "sizes": sizes,
        "platform_largest_to_smallest": round(largest["platform_s"] / smallest["platform_s"], 2),
        "plain_largest_to_smallest": round(largest["plain_dagster_s"] / smallest["plain_dagster_s"], 2),
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    if arguments.json:
        print(json.dumps(result))
    else:
        for size in sizes:
            print(
                f"{size['products']:>5} products: platform {size['platform_s']} s, plain Dagster "
                f"{size['plain_dagster_s']} s (first run {size['first_run_s']} s)"
            )
        print(
            f"largest / smallest: platform {result['platform_largest_to_smallest']}, "
            f"plain {result['plain_largest_to_smallest']}"
        )


if __name__ == "__main__":
    main()
