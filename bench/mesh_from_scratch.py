"""Time the whole demo mesh from scratch: every domain, then the platform's catalog.

    .venv/bin/python bench/mesh_from_scratch.py --rounds 3 --json

Each round starts with a fresh instance (the project's dagster.yaml) and a fresh warehouse
(no lake, no compute files, no descriptor cache), and materializes every asset of every
location of workspace.yaml as a whole `dagster asset materialize --select '*'` process, the
producers first (hr and sales, then finance), then the platform location (the catalog, the
docs site). Prints each location's median and the total's, and the machine's load. Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from processes import PROJECT, fresh_instance, timed_materialize

from platform_core.catalog.mesh import domain_order, load_mesh


def one_round(order: list[str]) -> dict[str, float]:
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        home = fresh_instance(Path(scratch))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "MESH_WAREHOUSE": str(Path(scratch) / "warehouse"),
            "MESH_MASKING_KEY": "bench-masking-key-not-a-secret",
            "PYTHONWARNINGS": "ignore",
        }
        for module, label in [(f"domains.{name}.definitions", name) for name in order] + [
            ("platform_core.definitions", "platform")
        ]:
            walls[label] = timed_materialize(["-m", module, "--select", "*"], PROJECT, env, label)
    walls["total"] = sum(walls.values())
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="One JSON line instead of a table.")
    arguments = parser.parse_args()
    order = domain_order(load_mesh(PROJECT / "workspace.yaml"))
    load_before = os.getloadavg()
    rounds = [one_round(order) for _ in range(arguments.rounds)]
    medians = {label: round(statistics.median(r[label] for r in rounds), 2) for label in rounds[0]}
    result = {
        "benchmark": "mesh_from_scratch",
        "rounds": arguments.rounds,
        "order": [*order, "platform"],
        "medians_s": medians,
        "walls": [{k: round(v, 2) for k, v in r.items()} for r in rounds],
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    if arguments.json:
        print(json.dumps(result))
    else:
        for label, seconds in medians.items():
            print(f"{label:<10} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
