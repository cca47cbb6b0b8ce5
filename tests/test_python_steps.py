"""A pandas step runs in a process of its own that reaches its declared inputs and nothing else:
no other domain's files, no lake, no masking key, no secret in its environment, no TCP; where
the kernel has no Landlock, it is refused unless the platform team allowed it for the domain."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import psutil
import pytest

from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.names import literal
from platform_core.execution import isolation, products, steps
from platform_core.execution.isolation import Sandbox, landlock_abi
from platform_core.execution.processes import stamp
from platform_core.execution.products import ProductOutcome
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize
from tests.factories import TRANSFORMS_PY, product_yaml, run_steps, write_domain
from tests.test_publish import BAD_ORDERS

pytestmark = pytest.mark.skipif(landlock_abi() < 4, reason="this kernel offers no Landlock with TCP rules")

PROBE = """
import glob, os, socket
import pandas as pd


def probe(inputs):
    seen = {{}}
    for label, path in {paths!r}.items():
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            seen[label] = "read"
        except OSError as error:
            seen[label] = type(error).__name__
    seen["lake files found"] = str(len(glob.glob({lake!r} + "/**/*.parquet", recursive=True)))
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        seen["tcp"] = "connected"
    except OSError as error:
        seen["tcp"] = type(error).__name__
    try:  # the process that audits this result, and never ran this code
        with open(f"/proc/{{os.getppid()}}/mem", "rb") as handle:
            handle.read(1)
        seen["its auditor's memory"] = "read"
    except OSError as error:
        seen["its auditor's memory"] = type(error).__name__
    os.write(1, b'[{{"check_name": "forged"}}]')  # the auditor's answer to the run is not on this stdout
    seen["environment"] = ",".join(sorted(os.environ))
    seen["orders given"] = str(len(inputs["orders"]))
    return pd.DataFrame([seen])
"""


def test_a_step_reads_its_inputs_and_nothing_else(tmp_path: Path, settings: Settings, instance, monkeypatch) -> None:
    monkeypatch.setenv("MESH_MASKING_KEY", "a-secret-the-step-must-not-see")
    assert materialize(build_domain(write_domain(tmp_path), settings), instance).success  # a lake to aim at
    key = tmp_path / "masking.key"
    key.write_text("another secret\n")
    module = tmp_path / "probe.py"
    module.write_text(
        PROBE.format(
            paths={
                "another domain's data": str(PROJECT / "domains" / "hr" / "data" / "employees.csv"),
                "the masking key file": str(key),
                "the lake's catalog": str(settings.warehouse_root / "lake" / "catalog.sqlite"),
                "another process's environment": "/proc/1/environ",
                "a file of the machine": "/etc/passwd",
                "a relationships rule's parent": str(tmp_path / "scratch" / "reference-0.parquet"),
            },
            lake=str(settings.warehouse_root),
        )
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    sandbox = Sandbox(scratch, readable=[module], sandboxed=True)
    contract = {"types": {}, "rules": [{"type": "accepted_values", "column": "tcp", "values": ["connected"]}]}
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT range AS order_id FROM range(3)) TO {literal(str(sandbox.input_path('orders')))}")
        con.execute(f"COPY (SELECT 'E1' AS employee_id) TO {literal(str(sandbox.reference_path(0)))}")
        sandbox.send(module, "probe", ["orders"], {**contract, "references": {}, "now": "2026-01-01T00:00:00+00:00"})
        result, checked = sandbox.answer()
        (seen,) = con.execute(f"SELECT * FROM read_parquet({literal(str(result))})").df().to_dict("records")
    environment = set(seen.pop("environment").split(","))
    assert environment <= {"HOME", "LANG", "LC_ALL", "PATH", "TZ", "PYTHONDONTWRITEBYTECODE", "TMPDIR"}
    # the rule's result is the auditor's, over what the step returned: the step's "forged" never reached the run
    assert [(r.check_name, r.passed, r.failing_rows) for r in checked] == [("accepted_values_tcp", False, 1)]
    assert seen == {
        "its auditor's memory": "PermissionError",
        "a relationships rule's parent": "PermissionError",
        "another domain's data": "PermissionError",
        "the masking key file": "PermissionError",
        "the lake's catalog": "PermissionError",
        "another process's environment": "PermissionError",
        "a file of the machine": "PermissionError",
        "lake files found": "0",
        "tcp": "PermissionError",
        "orders given": "3",
    }


def test_a_step_that_reaches_for_what_it_may_not_fails_and_nothing_is_published(
    tmp_path: Path, settings: Settings, instance
) -> None:
    secret = tmp_path / "warehouse" / "masking.key"
    secret.parent.mkdir(parents=True)
    secret.write_text("the key\n")
    greedy = f"""
import pandas as pd


def customers(inputs):
    key = open({str(secret)!r}).read()  # what a step must never read
    return pd.DataFrame({{"customer": [key], "order_count": [1]}})
"""
    domain = write_domain(tmp_path, files={"products/sales/transforms.py": greedy})
    result = materialize(build_domain(domain, settings), instance)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "domains/shop/products/sales/transforms.py" in message and "Permission denied" in message
    assert Warehouse(settings.warehouse_root).publications("shop.sales") == []


def test_without_landlock_a_pandas_step_is_refused_unless_the_platform_allows_it(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    monkeypatch.setattr(steps, "landlock_abi", lambda: 0)
    domain = write_domain(tmp_path)
    result = materialize(build_domain(domain, settings), instance)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "MESH_UNSANDBOXED_PYTHON=shop" in failure.event_specific_data.error.message
    allowed = dataclasses.replace(settings, unsandboxed_python=frozenset({"shop"}))
    assert materialize(build_domain(domain, allowed), instance).success
    assert isolation.landlock_abi() >= 4  # the real kernel's, untouched by the patch of the caller


def _step_processes() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and "platform_core.execution.isolation" in " ".join(p.cmdline())
    ]


def test_a_pandas_steps_process_starts_one_step_ahead_and_nothing_is_left_behind(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    product = product_yaml()
    second = {**product["output_ports"][0], "name": "customers_again", "description": "The same, again."}
    product["output_ports"].append(second)
    domain = write_domain(tmp_path, product)
    (loaded,) = load_domain(domain).products
    pandas_steps = [step for _, step in loaded.steps if step.engine == "pandas"]
    sandboxes = steps.Sandboxes(loaded, [step for _, step in loaded.steps], unsandboxed=False)
    try:
        assert list(sandboxes.started) == ["customers"]  # started before any step ran
        first = sandboxes.take(pandas_steps[0])
        assert list(sandboxes.started) == ["customers_again"]  # the next one loads while the first runs
        first.close()
    finally:
        sandboxes.close()
    assert not _step_processes() and sandboxes.folder is not None and not sandboxes.folder.exists()

    # a run leaves no process and no scratch folder, whether it succeeds or fails before its pandas steps
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert materialize(build_domain(domain, settings), instance).success
    assert [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("mesh-steps-")] == []
    (domain / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")
    assert not materialize(build_domain(domain, settings), instance).success
    assert not _step_processes()
    assert [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("mesh-steps-")] == []


FAILING_TRANSFORMS = """
def customers(inputs):
    raise ValueError("no customers today")
"""


def _staging_events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the run does, in order, as it stages steps and takes pandas steps' results in: spies on
    the real staging and taking-in."""
    events: list[str] = []
    real_stage, real_finish = products.stage, steps.Transform.finish

    def stage(con, product, step, *args, **kwargs):  # noqa: ANN002, ANN003 - a spy
        transform = real_stage(con, product, step, *args, **kwargs)
        events.append(f"{step.name} handed to its process" if transform else f"{step.name} staged")
        return transform

    def finish(transform: steps.Transform) -> list:
        events.append(f"{transform.step.name} taken in")
        return real_finish(transform)

    monkeypatch.setattr(products, "stage", stage)
    monkeypatch.setattr(steps.Transform, "finish", finish)
    return events


def test_a_pandas_step_works_in_its_process_while_the_run_builds_the_steps_that_do_not_read_it(
    tmp_path: Path, monkeypatch
) -> None:
    """A pandas step is handed to its process as soon as what it reads is built, ahead of steps
    declared before it; the run builds the steps that do not read it meanwhile, and takes its result
    in when a step reads it. Outcomes keep the declared order; a failure is the step's alone."""
    product = product_yaml()
    customers, daily_sales = product["output_ports"]
    regulars = {
        "name": "regular_customers",
        "kind": "table",
        "description": "Customers who ordered more than once.",
        "classification": "confidential",
        "sql": "sql/regular_customers.sql",
        "depends_on": ["customers"],
        "columns": [{"name": "customer", "type": "string", "description": "Customer name."}],
    }
    product["output_ports"] = [daily_sales, customers, regulars]
    regulars_sql = {"products/sales/sql/regular_customers.sql": "SELECT customer FROM customers WHERE order_count > 1"}
    events = _staging_events(monkeypatch)
    expected = [
        "raw_orders staged",
        "orders staged",
        "customers handed to its process",
        "daily_sales staged",
        "customers taken in",
    ]
    declared = ["raw_orders", "orders", "daily_sales", "customers", "regular_customers"]

    (good,) = load_domain(write_domain(tmp_path / "good", product, files=regulars_sql)).products
    outcome = run_steps(Warehouse(tmp_path / "good" / "warehouse"), good)
    assert events == [*expected, "regular_customers staged"]
    assert [o.step.name for o in outcome.steps] == declared
    assert outcome.built and not outcome.failed
    assert outcome.steps[3].row_count == 3 and all(r.passed for r in outcome.steps[3].results)

    events.clear()
    files = {**regulars_sql, "products/sales/transforms.py": FAILING_TRANSFORMS}
    (failing,) = load_domain(write_domain(tmp_path / "failing", product, files=files)).products
    warehouse = Warehouse(tmp_path / "failing" / "warehouse")
    outcome = run_steps(warehouse, failing)
    assert events == expected  # regular_customers is not staged
    assert [o.step.name for o in outcome.steps] == declared
    by_name = {o.step.name: o for o in outcome.steps}
    assert "ValueError: no customers today" in str(by_name["customers"].error)
    assert by_name["regular_customers"].error == "not built: customers failed"
    assert by_name["daily_sales"].error is None and all(r.passed for r in by_name["daily_sales"].results)
    assert not outcome.built and warehouse.publications("shop.sales") == []
    assert not _step_processes()


STATUSES_TRANSFORM = """

def statuses(inputs):
    return inputs["orders"].groupby("status", as_index=False).agg(order_count=("order_id", "count"))
"""


def test_a_run_has_one_pandas_step_at_work_at_a_time_beside_its_sql_steps(tmp_path: Path, monkeypatch) -> None:
    """Two pandas steps that read the same step are not at work together: each holds a frame in
    memory and a core, beside DuckDB's. The second is handed over once the first is taken in, and
    the SQL steps are still built while one is at work."""
    product = product_yaml()
    customers, daily_sales = product["output_ports"]
    statuses = {
        **customers,
        "name": "statuses",
        "description": "Orders per status.",
        "python": "transforms.py:statuses",
        "columns": [
            {"name": "status", "type": "string", "description": "Order status.", "unique": True},
            {"name": "order_count", "type": "integer", "description": "Orders in that status."},
        ],
    }
    product["output_ports"] = [customers, statuses, daily_sales]
    files = {"products/sales/transforms.py": TRANSFORMS_PY + STATUSES_TRANSFORM}
    (loaded,) = load_domain(write_domain(tmp_path, product, files=files)).products
    events = _staging_events(monkeypatch)

    outcome = run_steps(Warehouse(tmp_path / "warehouse"), loaded)
    assert events == [
        "raw_orders staged",
        "orders staged",
        "customers handed to its process",
        "customers taken in",
        "statuses handed to its process",
        "daily_sales staged",
        "statuses taken in",
    ]
    assert [o.step.name for o in outcome.steps] == ["raw_orders", "orders", "customers", "statuses", "daily_sales"]
    assert outcome.built and not outcome.failed
    assert outcome.steps[3].row_count == 2 and all(r.passed for r in outcome.steps[3].results)
    assert not _step_processes()


def test_a_killed_runs_scratch_folder_goes_with_the_next_run_of_a_pandas_step(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    killed = subprocess.Popen(["sleep", "60"])
    dead_stamp = stamp(killed.pid)
    killed.kill()
    killed.wait(timeout=10)
    folders = {
        "dead": tmp_path / "tmp" / f"{steps.SCRATCH_PREFIX}{dead_stamp}-abc",
        "alive": tmp_path / "tmp" / f"{steps.SCRATCH_PREFIX}{stamp()}-def",  # this process's: it runs
        "unknown": tmp_path / "tmp" / f"{steps.SCRATCH_PREFIX}xyz",  # no owner to judge: left alone
    }
    for folder in folders.values():
        (folder / "employees").mkdir(parents=True)
        (folder / "employees" / "raw_employees.parquet").write_bytes(b"personal data")
    (loaded,) = load_domain(write_domain(tmp_path)).products
    with steps.Sandboxes(loaded, [step for _, step in loaded.steps], unsandboxed=False):
        assert {name for name, folder in folders.items() if folder.exists()} == {"alive", "unknown"}


RUN_HR = """
import sys
from pathlib import Path

import duckdb

from platform_core.descriptors.loader import load_domain
from platform_core.execution.products import run_product
from platform_core.storage.warehouse import Warehouse

warehouse, domain, mode = Warehouse(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3]
product = next(p for p in load_domain(domain).products if p.name == "overtime")
steps = {s.name for _, s in product.steps}
warehouse.database("hr").parent.mkdir(parents=True, exist_ok=True)
with duckdb.connect(str(warehouse.database("hr"))) as con:
    warehouse.lake.attach(con)
    outcome = run_product(
        con, warehouse.lake, product, input_snapshot=warehouse.lake.current_snapshot(con), masking_key="a-test-key",
        build=steps if mode == "build" else set(), audit_only=set() if mode == "build" else {"employees"},
    )
assert not outcome.failed, outcome.summary(outcome.failed)
print(",".join(m for m in ("pandas", "pandera", "numpy") if m in sys.modules))
"""


def _run_hr(warehouse: Path, mode: str) -> str:
    """The modules of pandas and pandera that a run of HR's product loaded in its own process."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_HR, str(warehouse), str(PROJECT / "domains" / "hr"), mode],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_a_run_loads_no_pandas_in_its_own_process(tmp_path: Path) -> None:
    """HR's pandas step runs, and its rules are checked with pandera, in the step's process; the run
    binds no Python value in DuckDB (which would import pandas): its own process never loads pandas."""
    assert _run_hr(tmp_path / "warehouse", "build") == ""
    # the control: the step's checks alone, on its kept table, run pandera in the run's own process
    assert _run_hr(tmp_path / "warehouse", "audit") == "pandas,pandera,numpy"


def test_a_pandas_steps_rules_give_the_same_results_in_its_process_as_in_the_runs(tmp_path: Path) -> None:
    """A built pandas step's rules are run by its own process; its checks alone, by the run's. The
    same data gives the same results either way: counts, samples, a relationships rule's parents."""
    shop = product_yaml()
    customers = shop["output_ports"][0]
    regulars = {  # a port the rule on customers points at: alice and bob, not carol
        "name": "regulars",
        "kind": "table",
        "description": "Customers with a paid order, carol aside.",
        "sql": "sql/regulars.sql",
        "depends_on": ["orders"],
        "columns": [{"name": "customer", "type": "string", "description": "Customer."}],
    }
    shop["output_ports"].insert(0, regulars)
    customers["depends_on"] = ["orders", "regulars"]
    warn = {"severity": "warn"}  # failing, without stopping the publication
    customers["quality"] += [
        {"type": "range", "column": "order_count", "max": 1, **warn},
        {"type": "accepted_values", "column": "customer", "values": ["alice"], **warn},
        {"type": "relationships", "column": "customer", "to": "regulars", "field": "customer", **warn},
    ]
    regulars_sql = "SELECT DISTINCT customer FROM orders WHERE customer <> 'carol'"
    (product,) = load_domain(write_domain(tmp_path, shop, {"products/sales/sql/regulars.sql": regulars_sql})).products
    warehouse = Warehouse(tmp_path / "warehouse")

    def results(outcome: ProductOutcome) -> dict[str, tuple]:
        (step,) = [o for o in outcome.steps if o.step.name == "customers"]
        return {r.check_name: (r.passed, r.failing_rows, r.observed) for r in step.results}

    built = results(run_steps(warehouse, product))
    checked = results(run_steps(warehouse, product, set(), audit_only={"customers"}))
    assert built == checked
    assert {name: failing for name, (passed, failing, _) in built.items() if not passed} == {
        "range_order_count": 1,
        "accepted_values_customer": 2,
        "relationships_customer_regulars": 1,
    }
    assert [row["customer"] for row in built["relationships_customer_regulars"][2]["sample"]] == ["carol"]
