"""Time the discovery commands as a person types them: each in a fresh process, on the demo mesh.

    .venv/bin/python bench/cli.py --repeat 5

`mesh catalog`, `show`, `lineage` read the descriptors only (Dagster is not imported without an
instance); `status` and `check` ask the Dagster instance in DAGSTER_HOME and build every domain's
definitions to tell whether Dagster loads them. One warm-up run of each first, so that the
descriptor cache holds the mesh as it is. Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MESH = str(PROJECT / ".venv" / "bin" / "mesh")
COMMANDS = (
    ["catalog"],
    ["show", "hr.overtime"],
    ["lineage", "hr.overtime"],
    ["status"],
    ["check"],
)


def wall(command: list[str], environ: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([MESH, *command], cwd=PROJECT, env=environ, capture_output=True, timeout=300, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        environ = {**os.environ, "MESH_WAREHOUSE": str(Path(home) / "warehouse"), "MESH_SERVING": "off"}
        for command in COMMANDS:
            given = {**environ, "DAGSTER_HOME": home} if command[0] in ("status", "check") else environ
            wall(command, given)  # warm-up: the descriptor cache, the file system's
            times = [wall(command, given) for _ in range(arguments.repeat)]
            print(f"mesh {' '.join(command):<24} median {statistics.median(times):6.2f} s  (min {min(times):.2f})")


if __name__ == "__main__":
    main()
