"""The benchmarks' reference: bench/handwritten_hr.py does the HR product's work, no less.

docs/benchmarks.md compares the platform with this script, and the comparison only holds while
the script builds, checks and publishes what the product does. Run on the shipped sample, it must
run every check the product runs and publish the same ports, value for value, as the platform's
run of HR in the session's mesh.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.settings import Settings
from tests.conftest import PROJECT

SCRIPT = PROJECT / "bench" / "handwritten_hr.py"


def _script():  # the script as a module, without putting bench/ on the path of every test
    spec = importlib.util.spec_from_file_location("handwritten_hr", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hand_written_script_checks_and_publishes_what_the_product_does(mesh_run, tmp_path: Path) -> None:
    script = _script()
    (product,) = load_domain(PROJECT / "domains" / "hr").products
    assert {step.name: sorted(r.check_name for r in step.rules) for _, step in product.steps} == {
        table: sorted(name for name, _, _ in rules) for table, rules in script.RULES.items()
    }
    key = (mesh_run.warehouse.root / ".." / "masking.key").resolve().read_text()
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--sources",
            str(PROJECT / "domains" / "hr" / "data"),
            "--database",
            ":memory:",
            "--lake",
            str(tmp_path / "lake"),
            "--json",
        ],
        env={"MESH_MASKING_KEY": key, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["snapshot"] >= 1
    assert script.lake_fingerprints(tmp_path / "lake") == script.lake_fingerprints(mesh_run.warehouse.root / "lake")


def test_plain_dagster_doing_the_work_publishes_what_the_product_does(mesh_run, tmp_path: Path) -> None:
    """bench/plain_dagster.py with PLAIN_DAGSTER_WORK: the same definitions in plain Dagster, doing
    HR's work as the hand-written script does; the benchmark's fairer baseline holds while it
    publishes what the product does."""
    spec = importlib.util.spec_from_file_location("plain_dagster", PROJECT / "bench" / "plain_dagster.py")
    assert spec is not None and spec.loader is not None
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    settings = Settings.from_env({"MESH_WAREHOUSE": str(tmp_path / "describe")})
    described = plain.describe([build_domain("hr", settings)], tmp_path / "plain.json")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    key = (mesh_run.warehouse.root / ".." / "masking.key").resolve().read_text()
    work = {"sources": str(PROJECT / "domains" / "hr" / "data"), "database": str(tmp_path / "hr.duckdb")}
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PLAIN_DAGSTER_DESCRIBED": str(described),
        "PLAIN_DAGSTER_WORK": json.dumps({**work, "lake": str(tmp_path / "lake"), "key": key}),
    }
    plain_location = ["-f", str(PROJECT / "bench" / "plain_dagster.py"), "--select", "*"]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", *plain_location],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and "RUN_SUCCESS" in done.stderr + done.stdout, done.stderr[-2000:]
    script = _script()
    assert script.lake_fingerprints(tmp_path / "lake") == script.lake_fingerprints(mesh_run.warehouse.root / "lake")
