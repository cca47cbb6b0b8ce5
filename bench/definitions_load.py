"""Time loading definitions: N generated products over D domains, the platform next to plain Dagster.

    .venv/bin/python bench/definitions_load.py --products 100 1000 --domains 20 --rounds 3 --json

Each domain is scaffolded with `mesh new domain` (the `simple` template: a file input, bronze,
silver and one published table with its contract), then its product is copied to reach N
products in all. Two kinds of fresh Python process then load every domain, alternating, in
each round:

- platform: `build_domain` for each domain (descriptors read, governance applied, assets,
  checks, schedules and resources made), then Dagster's asset graph resolved. The first
  process validates every descriptor and fills the descriptor cache (reported on its own as
  the first load); the timed rounds find it, as every later Dagster process does;
- plain: the same Dagster definitions written directly as `dg.multi_asset` with empty bodies:
  the same asset keys, dependencies, owners, descriptions, tags, kinds, metadata (column
  schemas), freshness policies, automation conditions, checks, pools, schedules, a DuckDB
  resource and the in-process executor, from a JSON description made beforehand, then the same
  asset graph resolved. What Dagster itself costs for this mesh, so the difference is the
  platform's own.

Both include importing Dagster. The wall is the whole process, its interpreter's start and exit
included (the exit walks every object the process holds, unless it froze them: the platform does,
platform_core.descriptors.cache.exit_without_collecting); the load is the same process from its
first line to its last, without them. Prints the medians, the ratios and the machine's load. Not
part of the test suite: timings depend on the machine.
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

PROJECT = Path(__file__).resolve().parent.parent

PLATFORM = """
import sys, time
from pathlib import Path
start = time.perf_counter()
import dagster as dg
from platform_core.dagster.factory import build_domain
from platform_core.settings import Settings
root = Path(sys.argv[1])
settings = Settings(warehouse_root=root / "warehouse", workspace=root / "workspace.yaml")
domains = [build_domain(d, settings) for d in sorted((root / "domains").glob("d*")) if d.is_dir()]
keys = sum(len(d.resolve_asset_graph().get_all_asset_keys()) for d in domains)  # one location each
print(time.perf_counter() - start, keys)
"""

PLAIN = """
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, "bench")
from plain_dagster import locations
keys = sum(len(location.resolve_asset_graph().get_all_asset_keys())  # one location per domain, as the platform's
           for location in locations(json.loads(open(sys.argv[1]).read())).values())
print(time.perf_counter() - start, keys)
"""


def make_mesh(root: Path, products: int, domains: int) -> None:
    """D scaffolded domains, then each one's product copied until the mesh holds N products."""
    (root / "workspace.yaml").write_text("load_from: []\n", encoding="utf-8")
    mesh = str(Path(sys.executable).parent / "mesh")
    for d in range(domains):
        subprocess.run(
            [
                mesh,
                "new",
                "domain",
                f"d{d:02d}",
                "--owner",
                f"team:team-{d:02d}",
                "--contact",
                f"team{d:02d}@example.com",
                "--product",
                "p0000",
                "--project",
                str(root),
            ],
            check=True,
            capture_output=True,
        )
    for n in range(domains, products):
        domain = root / "domains" / f"d{n % domains:02d}"
        name = f"p{n // domains:04d}"
        for kind in ("products", "data"):
            shutil.copytree(domain / kind / "p0000", domain / kind / name)
        descriptor = domain / "products" / name / "product.yaml"
        text = descriptor.read_text(encoding="utf-8").replace("p0000", name)
        descriptor.write_text(text, encoding="utf-8")


def describe(root: Path) -> Path:
    """The mesh's definitions as JSON, for the plain Dagster process (made once, untimed)."""
    from plain_dagster import describe as describe_definitions

    from platform_core.dagster.factory import build_domain
    from platform_core.settings import Settings

    settings = Settings(warehouse_root=root / "describe", workspace=root / "workspace.yaml")
    described = describe_definitions(
        [build_domain(d, settings) for d in sorted((root / "domains").glob("d*"))], root / "described.json"
    )
    forget_cached_descriptors(root)  # the first timed platform process starts with none
    return described


def forget_cached_descriptors(root: Path) -> None:
    for entry in (root / "domains").glob("*/__pycache__/mesh-descriptors-*.pickle"):
        entry.unlink()


def run(code: str, argument: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(argument)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode:
        raise SystemExit(f"the load failed:\n{done.stderr[-3000:]}")
    # the wall is taken outside: the interpreter's start and exit count too
    loading, assets = done.stdout.split()
    return time.perf_counter() - started, int(assets), float(loading)


def measure(products: int, domains: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        make_mesh(root, products, domains)
        described = describe(root)
        walls: dict[str, list[float]] = {"platform": [], "plain": []}
        loads: dict[str, list[float]] = {"platform": [], "plain": []}  # the same, from the process's start to its end
        assets = {}
        cold, assets["platform"], _ = run(PLATFORM, root)  # validates every descriptor and fills the cache
        for _ in range(rounds):  # alternating, so a busy moment of the machine hits both
            for kind, code, argument in (("platform", PLATFORM, root), ("plain", PLAIN, described)):
                wall, assets[kind], loading = run(code, argument)
                walls[kind].append(wall)
                loads[kind].append(loading)
        checks = sum(len(p.get("checks", ())) for p in json.loads(described.read_text(encoding="utf-8")))
    medians = {kind: statistics.median(values) for kind, values in walls.items()}
    inside = {kind: statistics.median(values) for kind, values in loads.items()}
    return {
        "benchmark": "definitions_load",
        "products": products,
        "domains": domains,
        "assets": assets["plain"],
        "checks": checks,
        "rounds": rounds,
        "platform_s": round(medians["platform"], 2),
        "plain_dagster_s": round(medians["plain"], 2),
        "ratio": round(medians["platform"] / medians["plain"], 2),
        "platform_load_s": round(inside["platform"], 2),
        "plain_dagster_load_s": round(inside["plain"], 2),
        "load_ratio": round(inside["platform"] / inside["plain"], 2),
        "platform_first_load_s": round(cold, 2),
        "first_load_ratio": round(cold / medians["plain"], 2),
        "walls": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
        "loads": {k: [round(v, 2) for v in vs] for k, vs in loads.items()},
        "asset_counts": assets,
        "load": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="One JSON line per size instead of a sentence.")
    arguments = parser.parse_args()
    for products in arguments.products:
        result = measure(products, arguments.domains, arguments.rounds)
        print(
            json.dumps(result)
            if arguments.json
            else f"{products} products over {arguments.domains} domains ({result['assets']} assets, {result['checks']} "
            f"checks): platform {result['platform_s']} s, plain Dagster {result['plain_dagster_s']} s, "
            f"ratio {result['ratio']}; inside the process, without its start and exit, "
            f"{result['platform_load_s']} s against {result['plain_dagster_load_s']} s, ratio {result['load_ratio']} "
            f"(medians of {arguments.rounds})"
        )


if __name__ == "__main__":
    main()
