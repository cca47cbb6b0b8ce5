"""Finding the mesh from the command line: `mesh catalog`, `show`, `status`, `lineage`,
`contract`, `docs build`, as a person without the UI (or a script) would use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from platform_core.background import Background
from platform_core.catalog.health import product_health
from platform_core.catalog.mesh import load_mesh
from platform_core.catalog.odcs import validate_contract
from platform_core.catalog.ui import UnreachableUI
from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.settings import Settings
from tests.conftest import PROJECT, materialize, subprocess_env
from tests.factories import ORDERS_CSV, consumer_product_yaml, product_yaml, write_consumer_domain, write_domain
from tests.test_publish import BAD_ORDERS
from tests.webserver import free_port, running_webserver

MESH = str(Path(sys.executable).parent / "mesh")
HR = yaml.safe_load((PROJECT / "domains/hr/products/overtime/product.yaml").read_text(encoding="utf-8"))
PAYROLL = next(port for port in HR["output_ports"] if port["name"] == "payroll_compensation")


W = str(PROJECT / "workspace.yaml")


def mesh(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_bare_mesh_prints_its_help_and_succeeds(tmp_path: Path) -> None:
    done = subprocess.run([MESH], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and "catalog" in done.stdout and "Exit status" in done.stdout


def test_mesh_check_works_from_inside_the_project(tmp_path: Path) -> None:
    env = {**os.environ, "MESH_WAREHOUSE": str(tmp_path / "warehouse")}
    done = subprocess.run(
        [MESH, "check"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT / "domains" / "hr" / "products",
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 3 domain(s) valid" in done.stdout


def test_catalog_finds_ports_by_name_and_column_and_filters() -> None:
    code, output = mesh("catalog", "payroll", "-w", W)
    assert code == 0
    first = output.splitlines()[1].split()
    assert first[:2] == ["port", "hr.overtime.payroll_compensation"] and "hr-data@example.com>" in output
    code, output = mesh("catalog", "amount_to_pay", "--json", "-w", W)  # a column name
    assert {row["address"] for row in json.loads(output)} >= {"hr.overtime.payroll_compensation"}
    code, output = mesh("catalog", "--owner", "finance-data", "--json", "-w", W)
    assert {r["address"] for r in json.loads(output)} == {"finance.overtime_accruals", "finance.overtime_cost_ratio"}
    code, output = mesh("catalog", "--tag", "kpi", "--domain", "finance", "--json", "-w", W)
    assert [r["address"] for r in json.loads(output)] == ["finance.overtime_cost_ratio"]
    code, output = mesh("catalog", "no-such-thing-anywhere", "-w", W)
    assert code == 1 and "nothing matches" in output


def test_show_a_port_lists_its_owner_consumers_and_every_column(monkeypatch) -> None:
    monkeypatch.setattr("platform_core.cli._instance", lambda: None)  # the descriptors alone
    code, output = mesh("show", "hr.overtime.payroll_compensation", "-w", W)
    assert code == 0, output
    assert "owner:      HR Data <hr-data@example.com> (hr-data)" in output
    assert "finance_cost_ratio (finance.overtime_cost_ratio): Putting the overtime payroll pays" in output
    assert "downstream: finance.overtime_accruals, finance.overtime_cost_ratio" in output
    shown = [
        line.split()[0]
        for line in output.split("port hr.overtime.payroll_compensation")[1].splitlines()[2:]
        if line.startswith("  ") and not line.startswith("   ") and line.split()[0] != "rules:"
    ]
    assert shown == [c["name"] for c in PAYROLL["columns"]]
    assert "health:     unknown (no Dagster instance: set DAGSTER_HOME)" in output
    code, output = mesh("show", "hr.overtime.payroll", "-w", W)
    assert code == 1 and "hr.overtime has no port 'payroll'; it publishes: dim_entity" in output
    code, output = mesh("show", "hr.overtime", "--json", "-w", W)
    assert len(json.loads(output)["ports"]) == len(HR["output_ports"])


def test_lineage_up_and_down() -> None:
    code, output = mesh("lineage", "finance.overtime_cost_ratio", "--upstream", "-w", W)
    assert code == 0 and output.splitlines() == [
        "finance.overtime_cost_ratio  Overtime Cost to Revenue (Finance Data)",
        "<- hr.overtime  HR Overtime (HR Data)",
        "<- sales.orders  Sales Orders (Sales Ops Data)",
    ]
    code, output = mesh("lineage", "hr.overtime.dim_entity", "--json", "-w", W)
    assert [child["address"] for child in json.loads(output)["downstream"]] == [
        "finance.overtime_accruals",
        "finance.overtime_cost_ratio",
    ]


def test_status_and_show_read_the_instance(mesh_run, monkeypatch) -> None:
    monkeypatch.setattr("platform_core.cli._instance", lambda: mesh_run.instance)
    code, output = mesh("status", "-w", W)
    assert code == 0, output  # every product of the mesh was materialized and passed
    assert all(line.split()[1] == "healthy" for line in output.splitlines()[1:])
    code, output = mesh("show", "hr.overtime", "-w", W)
    assert "health:     healthy, freshness pass, last published 20" in output
    assert "latest checks: " in output and ", 0 failed" in output
    late = datetime.now(UTC) + timedelta(days=3)  # three days on, nothing ran: stale by its SLA
    (hr,) = load_domain(PROJECT / "domains" / "hr").products
    stale = product_health(mesh_run.instance, hr, now=late)
    assert stale.state == "stale" and "later than its SLA allows" in stale.reasons[0]


def test_status_names_failing_and_never_materialized_products(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    domain_dir = write_domain(tmp_path)
    (product,) = load_domain(domain_dir).products
    never = product_health(instance, product)
    assert never.state == "never_materialized" and never.reasons == ("never published: customers, daily_sales",)
    defs = build_domain(domain_dir, settings)
    assert materialize(defs, instance).success
    assert product_health(instance, product).healthy
    (domain_dir / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")
    assert not materialize(defs, instance).success
    failing = product_health(instance, product)
    assert failing.state == "failed_run"
    assert any(r.startswith("1 blocking check(s) failed: orders.unique_order_id") for r in failing.reasons)
    assert [c.name for c in failing.checks if not c.passed] == ["unique_order_id"]
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_module: {module_name: domains.shop.definitions}\n")
    monkeypatch.setattr("platform_core.cli._instance", lambda: instance)
    result = CliRunner().invoke(main, ["status", "-w", str(tmp_path / "workspace.yaml"), "--json"])
    assert result.exit_code == 1 and json.loads(result.output)[0]["state"] == "failed_run"
    monkeypatch.setattr("platform_core.cli._instance", lambda: None)
    result = CliRunner().invoke(main, ["status", "-w", str(tmp_path / "workspace.yaml")])
    assert result.exit_code == 2 and "DAGSTER_HOME is not set" in result.output


def test_a_null_where_the_contract_forbids_one_fails_the_schema_check_and_names_its_rule(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    """`nullable: false` is checked within the step's schema check, one Dagster check, and each
    column's rule keeps its own result and failing rows there, and in `mesh status`."""
    domain_dir = write_domain(tmp_path)
    (product,) = load_domain(domain_dir).products
    nulls = ORDERS_CSV + ",dave,3.00,paid,2026-01-03 13:00:00\n"  # an order without its id
    (domain_dir / "data" / "orders.csv").write_text(nulls, encoding="utf-8")
    result = materialize(build_domain(domain_dir, settings), instance)
    assert not result.success
    assert "shop.sales.orders: blocking checks failed (schema (not_null_order_id))" in str(
        result.get_step_failure_events()[0].event_specific_data.error
    )
    (schema,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_key.path[-1] == "orders" and e.check_name == "schema"
    ]
    assert not schema.passed and schema.metadata["columns_match"].value is True
    (rule,) = schema.metadata["rules"].data
    assert (rule["check"], rule["passed"], rule["severity"], rule["failing_rows"]) == (
        "not_null_order_id",
        False,
        "error",
        1,
    )
    assert [row["order_id"] for row in rule["sample"]] == [None]  # the failing row, as a sample
    health = product_health(instance, product)
    failed = [(c.asset, c.name, c.sample) for c in health.checks if not c.passed]
    assert failed == [("shop.sales.orders", "not_null_order_id", tuple(rule["sample"]))]
    assert "1 blocking check(s) failed: orders.not_null_order_id" in health.reasons[-1]
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_module: {module_name: domains.shop.definitions}\n")
    monkeypatch.setattr("platform_core.cli._instance", lambda: instance)
    monkeypatch.setenv("MESH_WAREHOUSE", str(settings.warehouse_root))
    shown = CliRunner().invoke(main, ["status", "-w", str(tmp_path / "workspace.yaml"), "--json"])
    (row,) = json.loads(shown.output)
    assert "1 blocking check(s) failed: orders.not_null_order_id" in row["reasons"]


DEFINITIONS = """from pathlib import Path

import dagster as dg

from platform_core import build_domain


@dg.definitions
def defs() -> dg.Definitions:
    return build_domain(Path(__file__).resolve().parent)
"""


def _refused_mesh(tmp_path: Path) -> Path:
    """shop, whose daily_sales is restricted now without a grant to ledger; ledger reading it (its
    location refused by Dagster); and depot, whose descriptor does not load. The workspace file."""
    shop = product_yaml()
    shop["output_ports"][1]["access"] = "restricted"
    write_domain(tmp_path, shop)
    ledger = consumer_product_yaml()
    ledger["output_ports"][0]["access"] = "restricted"  # it carries shop's restricted data on
    write_consumer_domain(tmp_path, ledger)
    write_domain(tmp_path, name="depot")
    (tmp_path / "domains" / "depot" / "products" / "sales" / "product.yaml").write_text("name: [\n")
    (tmp_path / "domains" / "__init__.py").write_text("")
    for name in ("shop", "ledger", "depot"):  # code locations, for a webserver to load
        (tmp_path / "domains" / name / "__init__.py").write_text("")
        (tmp_path / "domains" / name / "definitions.py").write_text(DEFINITIONS)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, working_directory: .}}\n"
            for d in ("shop", "ledger", "depot")
        )
    )
    return workspace


def test_status_calls_unhealthy_a_domain_dagster_does_not_load_and_shows_the_last_publication(
    tmp_path: Path, settings: Settings, instance, monkeypatch
) -> None:
    workspace = _refused_mesh(tmp_path)
    shop = build_domain(tmp_path / "domains" / "shop", settings)
    assert materialize(shop, instance).success
    assert materialize(shop, instance, "*shop/sales/daily_sales").success  # later, one port only
    monkeypatch.setattr("platform_core.cli._instance", lambda: instance)
    monkeypatch.setenv("MESH_WAREHOUSE", str(settings.warehouse_root))
    result = CliRunner().invoke(main, ["status", "-w", str(workspace), "--json"])
    assert result.exit_code == 1, result.output
    health = {row["address"]: row for row in json.loads(result.stdout)}
    assert health["shop.sales"]["state"] == "healthy"
    assert health["ledger.vat"]["state"] == "not_loaded"
    assert health["ledger.vat"]["reasons"][0] == (
        "its code location does not load in Dagster: 1 governance error(s) (access)"
    )
    assert health["depot.*"]["state"] == "not_loaded"
    assert "its descriptors do not load" in health["depot.*"]["reasons"][0]
    (product,) = load_domain(tmp_path / "domains" / "shop").products
    publications = settings.warehouse().publications("shop.sales")
    assert len(publications) == 2
    last = product_health(instance, product).last_materialized
    assert last is not None and datetime.fromisoformat(health["shop.sales"]["last_materialized"]) == last
    ports = [dg.AssetKey(["shop", "sales", name]) for name in ("customers", "daily_sales")]
    times = [r.asset_entry.last_materialization.timestamp for r in instance.get_asset_records(ports)]
    assert last.timestamp() == pytest.approx(max(times), abs=1e-3) and max(times) > min(times)  # not the oldest


def test_check_says_which_location_dagster_refuses_with_the_fix_and_request_access_writes_it(
    tmp_path: Path, monkeypatch
) -> None:
    workspace = _refused_mesh(tmp_path)
    monkeypatch.setenv("MESH_WAREHOUSE", str(tmp_path / "warehouse"))
    code, output = mesh("check", "-w", str(workspace))
    assert code == 1
    assert "ok  shop" in output and "ok  ledger" not in output
    assert "refused  ledger:\n  its code location does not load in Dagster: 1 governance error(s) (access)" in output
    assert "fix: ask Shop Data (shop@example.com)" in output or "fix: ask team shop-data (shop@example.com)" in output
    assert (
        "  the producer adds, in domains/shop/products/sales/product.yaml:\n"
        "    output_ports: the port named daily_sales, its grants:\n"
        '      - {consumer: "ledger.vat", purpose: "VAT due on the paid revenue"}\n'
        "  or write it for the producer to review: mesh request-access shop.sales.daily_sales --for ledger.vat "
        '--purpose "VAT due on the paid revenue"'
    ) in output
    assert "of 3 domain(s) do not load in Dagster" in output

    descriptor = tmp_path / "domains" / "shop" / "products" / "sales" / "product.yaml"
    before = descriptor.read_text(encoding="utf-8").splitlines()
    code, output = mesh("request-access", "shop.sales.daily_sales", "--for", "ledger.vat", "-w", str(workspace))
    assert code == 0 and "nothing is granted before" in output, output
    after = descriptor.read_text(encoding="utf-8").splitlines()
    added = [line for line in after if line not in before]
    assert added == ["  grants:", '    - {consumer: "ledger.vat", purpose: "VAT due on the paid revenue"}']
    assert [line for line in before if line not in after] == []  # every other line as it was
    code, output = mesh("request-access", "shop.sales.daily_sales", "--for", "ledger.vat", "-w", str(workspace))
    assert code == 0 and "nothing to request" in output
    code, output = mesh("request-access", "shop.sales.daily_sales", "--for", "ledger.nothing", "-w", str(workspace))
    assert code == 1 and "there is no product 'ledger.nothing'" in output
    code, output = mesh("check", "-w", str(workspace))
    assert "ok  ledger" in output and "refused  ledger" not in output


@pytest.mark.parametrize("address", sorted(p.product_address for p in load_mesh(PROJECT / "workspace.yaml").products))
def test_every_product_exports_a_valid_odcs_contract(address: str, tmp_path: Path) -> None:
    out = tmp_path / "contract.yaml"
    code, output = mesh("contract", "export", address, "--out", str(out), "-w", W)
    assert code == 0 and "valid" in output, output
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert validate_contract(document) == [] and document["id"] == f"urn:datacontract:{address.replace('.', ':')}"


def test_a_contract_imports_into_a_domain_as_a_product_that_loads(tmp_path: Path) -> None:
    exported = tmp_path / "payroll.yaml"
    assert mesh("contract", "export", "hr.overtime.payroll_compensation", "--out", str(exported), "-w", W)[0] == 0
    project = tmp_path / "project"
    project.mkdir()
    (project / "workspace.yaml").write_text("load_from: []\n")
    code, output = mesh(
        "new",
        "domain",
        "payroll",
        "--owner",
        "team:payroll",
        "--contact",
        "pay@example.com",
        "--empty",
        "--project",
        str(project),
    )
    assert code == 0, output
    code, output = mesh(
        "contract", "import", str(exported), "--into", str(project / "domains" / "payroll"), "--project", str(project)
    )
    assert code == 0, output
    (product,) = load_domain(project / "domains" / "payroll").products
    assert [c.name for c in product.output_ports[0].columns] == [c["name"] for c in PAYROLL["columns"]]
    code, output = mesh(
        "contract", "import", str(exported), "--into", str(project / "domains" / "payroll"), "--project", str(project)
    )
    assert code == 1  # never overwrites


def test_docs_build_writes_the_site_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME")  # no instance: Dagster's own note about an instance file says nothing here
    code, output = mesh("docs", "build", "--out", str(tmp_path / "site"), "-w", W)
    assert code == 0 and output.strip() == f"open file://{tmp_path / 'site' / 'index.html'}"
    assert (tmp_path / "site" / "products" / "hr.overtime.html").is_file()


def test_the_command_line_reads_its_settings_and_reaches_the_ui_before_it_imports_the_descriptors() -> None:
    """`mesh status` sends its question to the Dagster UI before it loads the mesh, so that the
    webserver answers while the descriptors load: the command line, its settings and the UI's
    client import neither pydantic (the descriptors' models), DuckDB nor Dagster."""
    script = (
        "import sys\nfrom platform_core.cli import main\nfrom platform_core.catalog.ui import DagsterUI\n"
        "from platform_core.settings import Settings\nSettings.from_env()\n"
        "print(sorted(m for m in ('pydantic', 'duckdb', 'dagster') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_status_and_show_ask_the_ui_before_they_import_the_descriptors(tmp_path: Path) -> None:
    """The question leaves before the descriptors' modules import (0.2 s), not after: the webserver
    answers meanwhile. Seen from inside the command, with a UI that takes the question and stops
    the command there."""
    script = (
        "import sys\nfrom platform_core.catalog import ui\n"
        "class Asked(Exception):\n    pass\n"
        "def ask_health(self):\n"
        "    raise Asked(sorted(m for m in ('pydantic', 'duckdb', 'dagster') if m in sys.modules))\n"
        "ui.DagsterUI.serving = classmethod(lambda cls, url, home: cls(url))\n"
        "ui.DagsterUI.ask_health = ask_health\n"
        "from platform_core.cli import main\n"
        "try:\n    main([*sys.argv[1:], '-w', 'workspace.yaml'])\nexcept Asked as asked:\n    print(asked)\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    for command in (["status"], ["status", "--domain", "hr"], ["show", "hr.overtime"]):
        done = subprocess.run(
            [sys.executable, "-c", script, *command],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == "[]", (command, done.stdout + done.stderr)


def test_the_mesh_and_its_checks_read_from_the_cache_need_no_duckdb() -> None:
    """What `mesh status` reads while the UI answers, the mesh from the descriptor cache and the
    names of every product's checks, imports neither DuckDB (0.05 s) nor sqlglot nor Dagster: what
    needed them was checked when the descriptors loaded."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom platform_core.catalog.health import check_keys\n"
        "from platform_core.catalog.mesh import load_mesh\nfrom platform_core.cli import _index\n"
        "mesh = load_mesh(_index(Path('workspace.yaml')))\n"
        "print(sum(len(check_keys(p)) for p in mesh.products) > 100,"
        " sorted(m for m in ('duckdb', 'sqlglot', 'dagster') if m in sys.modules))"
    )
    for _ in range(2):  # the first may load the descriptors (a cold cache), the second reads the cache
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120, check=True
        )
    assert done.stdout.strip() == "True []", done.stdout + done.stderr


def test_a_question_to_the_ui_asked_in_the_background_answers_or_fails_where_it_is_read() -> None:
    """`mesh status` asks the UI in a thread while it loads the mesh: the answer, or the error (the
    UI's, which makes it read the instance instead, or any other), comes where it is read."""
    assert Background(lambda: {"answer": 42}).result() == {"answer": 42}

    def refused() -> dict:
        raise UnreachableUI("http://127.0.0.1:1: connection refused")

    with pytest.raises(UnreachableUI, match="connection refused"):
        Background(refused).result()

    def unexpected() -> dict:
        return {"data": {}}["data"]["assetNodes"]

    with pytest.raises(KeyError, match="assetNodes"):
        Background(unexpected).result()


def _mesh_alone(workspace: Path, env: dict[str, str], *arguments: str) -> tuple[int, str, bool]:
    """A `mesh` command in a fresh process: its exit status, its output, and whether it imported Dagster."""
    script = (
        "import sys\nfrom platform_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        "print('\\0' + str(code) + ' ' + str('dagster' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments, "-w", str(workspace)],
        cwd=workspace.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output, _, ending = done.stdout.rpartition("\0")
    code, imported = ending.split()
    return int(code if code != "None" else 0), output, imported == "True"


def test_status_and_show_ask_the_ui_serving_the_instance_without_dagster_and_say_what_the_instance_says(
    tmp_path: Path, settings: Settings, instance
) -> None:
    """With the Dagster UI up on the instance of DAGSTER_HOME, `mesh status` and `mesh show` ask it,
    import no Dagster, and give the answer reading the instance gives: a failed run, its failed checks and
    their samples, a refused location (as the UI shows it), a domain whose descriptors do not load."""
    workspace = _refused_mesh(tmp_path)
    shop = build_domain(tmp_path / "domains" / "shop", settings)
    assert materialize(shop, instance).success
    (tmp_path / "domains" / "shop" / "data" / "orders.csv").write_text(BAD_ORDERS, encoding="utf-8")
    assert not materialize(shop, instance).success  # a failed run, and its failed blocking check

    with running_webserver(tmp_path, tmp_path) as ui:
        states = {e["name"]: e for e in ui.loaded_locations(timeout=120)}
        assert states["domains.ledger.definitions"]["locationOrLoadError"]["__typename"] == "PythonError"
        env = {**subprocess_env(tmp_path), "MESH_UI_URL": ui.url}
        closed = {**env, "MESH_UI_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens: the instance

        code, asked, imported = _mesh_alone(workspace, env, "status", "--json")
        assert (code, imported) == (1, False), asked
        code, read, imported = _mesh_alone(workspace, closed, "status", "--json")
        assert (code, imported) == (1, True), read
        by_ui = {h["address"]: h for h in json.loads(asked)}
        by_instance = {h["address"]: h for h in json.loads(read)}
        assert by_ui.keys() == by_instance.keys() == {"shop.sales", "ledger.vat", "depot.*"}

        shop_health = by_ui["shop.sales"]
        assert shop_health == by_instance["shop.sales"]
        assert shop_health["state"] == "failed_run" and shop_health["failed_run"]
        assert "1 blocking check(s) failed: orders.unique_order_id" in shop_health["reasons"]
        (failed,) = [c for c in shop_health["checks"] if not c["passed"]]
        assert failed["name"] == "unique_order_id" and failed["sample"]
        assert by_ui["depot.*"] == by_instance["depot.*"]
        # the refused location, by the UI's own error and by its files: both not loaded, for access
        for health in (by_ui["ledger.vat"], by_instance["ledger.vat"]):
            assert health["state"] == "not_loaded", health
            assert health["reasons"][0].startswith("its code location does not load in Dagster: "), health
            assert "access" in health["reasons"][0], health
        assert {k: v for k, v in by_ui["ledger.vat"].items() if k != "reasons"} == {
            k: v for k, v in by_instance["ledger.vat"].items() if k != "reasons"
        }

        code, table_text, _ = _mesh_alone(workspace, env, "status")
        assert code == 1 and table_text.rstrip().endswith(f"(as the Dagster UI at {ui.url} shows it)"), table_text
        code, shop_only, imported = _mesh_alone(workspace, env, "status", "--json", "--domain", "shop")
        assert (code, imported) == (1, False) and json.loads(shop_only) == [shop_health]
        # a proxy named for the web is not asked the way to a UI on this machine
        proxied = {**env, "http_proxy": closed["MESH_UI_URL"], "HTTP_PROXY": closed["MESH_UI_URL"]}
        code, shop_only, imported = _mesh_alone(workspace, proxied, "status", "--json", "--domain", "shop")
        assert (code, imported) == (1, False) and json.loads(shop_only) == [shop_health]

        # `mesh show` tells the same health, asked of the UI
        code, shown, imported = _mesh_alone(workspace, env, "show", "shop.sales", "--json")
        assert (code, imported) == (0, False), shown
        code, shown_read, imported = _mesh_alone(workspace, closed, "show", "shop.sales", "--json")
        assert (code, imported) == (0, True)
        assert json.loads(shown)["health"] == json.loads(shown_read)["health"]
        assert json.loads(shown)["health"]["state"] == "failed_run"
        code, shown_text, _ = _mesh_alone(workspace, env, "show", "shop.sales")
        assert shown_text.rstrip().endswith(f"(health as the Dagster UI at {ui.url} shows it)"), shown_text

        # a UI that serves another instance is not asked: its runs are not this instance's
        other = {**env, "DAGSTER_HOME": str(tmp_path / "another_home")}
        (tmp_path / "another_home").mkdir()
        code, elsewhere, imported = _mesh_alone(workspace, other, "status", "--json", "--domain", "shop")
        assert (code, imported) == (1, True)
        assert json.loads(elsewhere)[0]["state"] == "never_materialized"
