"""Running Dagster as whole processes for the benchmarks: a fresh instance, a timed materialize."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")


def fresh_instance(parent: Path, instance_file: str = "dagster.yaml") -> Path:
    """A new DAGSTER_HOME under parent, with one of the project's instance files (by default the
    SQLite instance the platform ships; `dagster.postgres.yaml` reads MESH_POSTGRES_URL)."""
    home = Path(tempfile.mkdtemp(prefix="dagster-home-", dir=parent))
    shutil.copy(PROJECT / "dagster_home" / instance_file, home / "dagster.yaml")
    return home


def timed_materialize(arguments: list[str], cwd: Path, env: dict[str, str], label: str) -> float:
    """Wall seconds of `dagster asset materialize <arguments>`, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(
        [DAGSTER, "asset", "materialize", *arguments], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode or "RUN_SUCCESS" not in done.stderr + done.stdout:
        raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
    return wall
