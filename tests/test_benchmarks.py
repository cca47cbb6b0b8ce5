"""The benchmarks' reference: bench/handwritten_hr.py does the HR product's work, no less.

docs/benchmarks.md compares the platform with this script, and the comparison only holds while
the script builds, checks and publishes what the product does. Run on the shipped sample, it must
run every check the product runs and publish the same ports, value for value, as the platform's
run of HR in the session's mesh.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from platform_core.descriptors.loader import load_domain
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
