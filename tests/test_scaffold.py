"""`mesh new`: what is generated loads, checks and materializes without edits; bad names write nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.loader import load_domain
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize, subprocess_env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A temporary copy of the project's workspace and domains."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "workspace.yaml", root / "workspace.yaml")
    return root


def mesh(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def new_procurement(project: Path, *options: str) -> tuple[int, str]:
    """`mesh new domain procurement` with its owner and contact, plus `options`."""
    owner = ("--owner", "team:procurement", "--contact", "buyers@example.com")
    return mesh("new", "domain", "procurement", *owner, *options, "--project", str(project))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_scaffolded_domain_and_products_load_check_and_materialize(project: Path, tmp_path: Path, instance) -> None:
    workspace_before = (project / "workspace.yaml").read_text()
    code, output = mesh(
        "new",
        "domain",
        "zeta_ops",
        "--owner",
        "team:zeta-ops",
        "--contact",
        "zeta@example.com",
        "--project",
        str(project),
    )
    assert code == 0, output
    assert "domains/zeta_ops/products/activity/product.yaml" in output
    workspace_after = (project / "workspace.yaml").read_text()
    assert workspace_after.startswith(workspace_before)  # every entry and comment kept, byte for byte
    assert workspace_after[len(workspace_before) :] == (
        "  - python_module:\n"
        "      module_name: domains.zeta_ops.definitions\n"
        "      location_name: zeta_ops\n"
        "      working_directory: .\n"
    )
    for name, template in (("stock", "dimensional"), ("ledger", "simple")):
        code, output = mesh("new", "product", "zeta_ops", name, "--template", template, "--project", str(project))
        assert code == 0, output
    assert (project / "workspace.yaml").read_text() == workspace_after  # products add no location

    code, output = mesh("check", "-w", str(project / "workspace.yaml"))
    assert code == 0, output
    assert "ok  zeta_ops: 3 product(s), 6 output port(s)" in output

    defs = build_domain(project / "domains" / "zeta_ops", Settings(warehouse_root=tmp_path / "warehouse"))
    result = materialize(defs, instance)
    assert result.success
    assert (
        len(result.get_asset_materialization_events()) == 3 + 10 + 3
    )  # simple: bronze, silver, port; dimensional: 3 bronze, 3 silver, 4 ports
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and [e.check_name for e in evaluations if not e.passed] == []
    view = dg.AssetKey(["zeta_ops", "stock", "records_by_site_month"])
    assert instance.get_latest_materialization_event(view).asset_materialization.metadata["dagster/row_count"].value > 0

    validate = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=project,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]


@pytest.mark.parametrize(
    "args, message",
    [
        (["domain", "../evil"], "refused: '../evil' looks like a path"),
        (["domain", "hr"], "refused: domain 'hr' already exists (domains/hr)"),
        (["domain", "select"], "refused: 'select' is a reserved SQL keyword"),
        (["domain", "ops;rm"], "refused: 'ops;rm' contains characters other than lowercase letters, digits and _: ';'"),
        (["domain", "$(id)"], "refused: '$(id)' contains characters other than lowercase letters, digits and _: '$()'"),
        (["domain", "/etc"], "refused: '/etc' looks like a path"),
        (["domain", "ZetaOps"], "contains characters other than lowercase letters, digits and _: 'OZ'"),
        (["domain", "2fast"], "refused: '2fast' must start with a lowercase letter"),
        (["domain", "import"], "refused: 'import' is a Python keyword"),
        (["domain", "platform"], "refused: 'platform' is reserved by the platform"),
        (["domain", "x" * 41], "is longer than 40 characters"),
        (["product", "hr", "overtime"], "refused: domains/hr/products/overtime already exists"),
        (["product", "hr", "order"], "refused: 'order' is a reserved SQL keyword"),
        (["product", "hr", "../../x"], "refused: '../../x' looks like a path"),
        (["product", "hr", "main"], "refused: 'main' is a name DuckDB uses for its own catalogs and schemas"),
        (["product", "hr", "information_schema"], "refused: 'information_schema' is a name DuckDB uses"),
        (["domain", "temp"], "refused: 'temp' is a name DuckDB uses for its own catalogs and schemas"),
        (
            ["product", "hr", "over__time"],
            "refused: 'over__time': no '__' and no '_' at the end (the lake names a port",
        ),
        (["domain", "lake"], "refused: 'lake': the platform attaches the lake of published ports under that name"),
        (["product", "nowhere", "stock"], "refused: there is no domain 'nowhere'; domains: finance, hr, sales"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(project: Path, args: list[str], message: str) -> None:
    before = _tree(project.parent)
    extra = ["--owner", "team:x", "--contact", "x@example.com"] if args[0] == "domain" else []
    code, output = mesh("new", *args, *extra, "--project", str(project))
    assert code == 1
    assert message in output and "Nothing was written." in output
    assert "use snake_case" in output or "already exists" in output or "no domain" in output
    assert _tree(project.parent) == before


def test_a_workspace_written_in_another_style_keeps_it(project: Path) -> None:
    style = (
        "# locations, flush left\nload_from:\n- python_module:\n    module_name: domains.hr.definitions\n"
        "    location_name: hr  # the flagship\n    working_directory: .\n"
    )
    (project / "workspace.yaml").write_text(style)
    code, output = mesh(
        "new",
        "domain",
        "zeta_ops",
        "--owner",
        "team:zeta-ops",
        "--contact",
        "zeta@example.com",
        "--project",
        str(project),
    )
    assert code == 0, output
    assert (project / "workspace.yaml").read_text() == style + (
        "- python_module:\n    module_name: domains.zeta_ops.definitions\n    location_name: zeta_ops\n"
        "    working_directory: .\n"
    )


def test_existing_folder_is_never_overwritten(project: Path) -> None:
    (project / "domains" / "zeta_ops").mkdir()
    (project / "domains" / "zeta_ops" / "notes.txt").write_text("keep me")
    before = _tree(project)
    code, output = mesh(
        "new",
        "domain",
        "zeta_ops",
        "--owner",
        "team:zeta-ops",
        "--contact",
        "zeta@example.com",
        "--project",
        str(project),
    )
    assert code == 1 and "domain 'zeta_ops' already exists" in output
    assert _tree(project) == before


def test_dry_run_lists_and_writes_nothing(project: Path) -> None:
    before = _tree(project)
    code, output = mesh(
        "new",
        "domain",
        "zeta_ops",
        "--owner",
        "team:zeta-ops",
        "--contact",
        "zeta@example.com",
        "--dry-run",
        "--project",
        str(project),
    )
    assert code == 0
    assert output.splitlines()[0] == "would write:"
    assert "  domains/zeta_ops/domain.yaml" in output.splitlines()
    assert "  workspace.yaml (add code location zeta_ops)" in output.splitlines()
    assert _tree(project) == before


@pytest.mark.parametrize("owner", ["Zeta Ops!", "procurement", "team:", "team:Zeta"])
def test_bad_owner_is_refused(project: Path, owner: str) -> None:
    before = _tree(project)
    code, output = mesh(
        "new", "domain", "zeta_ops", "--owner", owner, "--contact", "zeta@example.com", "--project", str(project)
    )
    assert code == 1 and f"owner {owner!r} is not a team; write it as team:<slug>" in output
    assert _tree(project) == before


def test_a_domain_starts_empty_or_with_a_named_product_and_is_removed_again(project: Path) -> None:
    before = _tree(project)
    code, output = new_procurement(project, "--empty")
    assert code == 0, output
    domain = load_domain(project / "domains" / "procurement")
    assert domain.products == () and not (project / "domains" / "procurement" / "products").exists()
    assert "It has no product yet" in (project / "domains" / "procurement" / "README.md").read_text()
    assert (
        dg.Definitions.validate_loadable(
            build_domain(project / "domains" / "procurement", Settings(warehouse_root=project / "warehouse"))
        )
        is None
    )
    code, output = mesh("remove", "domain", "procurement", "--yes", "--project", str(project))
    assert code == 0 and "workspace.yaml (code location procurement)" in output
    assert _tree(project) == before  # undone to the byte, workspace.yaml included

    code, output = new_procurement(project, "--product", "purchase_orders")
    assert code == 0, output
    (product,) = load_domain(project / "domains" / "procurement").products
    assert (
        product.name == "purchase_orders"
        and (project / "domains" / "procurement" / "data" / "purchase_orders").is_dir()
    )


def test_a_consumer_domain_reads_other_domains_ports_and_is_built_after_them(project: Path, tmp_path: Path) -> None:
    """A new team's domain that only reads other domains' ports: scaffolded from the consumer
    template, granted by a reviewed change to the producer, built after it by `mesh materialize`."""
    code, output = new_procurement(
        project,
        "--template",
        "consumer",
        "--product",
        "supplier_overtime",
        "--reads",
        "hr.overtime.overtime_analysis",
        "--purpose",
        "Overtime of the teams that serve suppliers",
    )
    assert code == 0, output
    domain = yaml.safe_load((project / "domains" / "procurement" / "domain.yaml").read_text())
    assert domain["owner"] == {"team": "procurement", "name": "Procurement Team", "contact": "buyers@example.com"}
    assert not (project / "domains" / "procurement" / "data").exists()  # no sample data to delete by hand
    (product,) = load_domain(project / "domains" / "procurement").products
    (source,) = product.port_inputs
    assert source.address == "hr.overtime.overtime_analysis" and source.purpose.startswith("Overtime of the teams")
    (hr,) = load_domain(project / "domains" / "hr").products
    analysis = next(p for p in hr.output_ports if p.name == "overtime_analysis")
    assert [c.name for c in product.output_ports[0].columns] == [c.name for c in analysis.columns]

    workspace = str(project / "workspace.yaml")
    code, output = mesh("check", "-w", workspace)
    assert code == 1 and "refused  procurement:" in output
    assert "mesh request-access hr.overtime.overtime_analysis --for procurement.supplier_overtime" in output
    code, output = mesh(
        "request-access", "hr.overtime.overtime_analysis", "--for", "procurement.supplier_overtime", "-w", workspace
    )
    assert code == 0, output
    code, output = mesh("check", "-w", workspace)
    assert code == 0 and "ok  procurement: 1 product(s), 1 output port(s)" in output, output

    env = {**subprocess_env(tmp_path), "MESH_WAREHOUSE": str(tmp_path / "warehouse")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mesh"), "materialize", "procurement", "--upstream", "-w", workspace],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split(" ...")[0] for line in done.stdout.splitlines()]
    assert lines == ["[1/2] hr.overtime", "[2/2] procurement.supplier_overtime"]  # the producer first
    warehouse = Warehouse(tmp_path / "warehouse")
    assert warehouse.read("procurement.supplier_overtime.supplier_overtime").count("*").fetchall()[0][0] > 0


def test_a_domain_other_domains_read_is_not_removed(project: Path) -> None:
    before = _tree(project)
    code, output = mesh("remove", "domain", "hr", "--yes", "--project", str(project))
    assert (
        code == 1 and "finance/products/overtime_accruals/product.yaml" in output and "read(s) ports of 'hr'" in output
    )
    assert _tree(project) == before
    code, output = mesh("remove", "domain", "nope", "--yes", "--project", str(project))
    assert code == 1 and "'nope' is not a domain of workspace.yaml (domains: finance, hr, sales)" in output


@pytest.mark.parametrize("name", ["sales/", "hr/../sales", "./sales", "../../victim/x/victim", "/tmp", "sales\\"])
def test_remove_takes_a_domain_name_never_a_path(project: Path, tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim" / "x" / "victim"  # a folder outside the project that looks like a domain
    victim.mkdir(parents=True)
    (victim / "domain.yaml").write_text("name: victim\n", encoding="utf-8")
    before, outside = _tree(project), _tree(tmp_path / "victim")
    code, output = mesh("remove", "domain", name, "--yes", "--project", str(project))
    assert code == 1 and "is not a domain of workspace.yaml" in output and "Nothing was removed" in output
    assert _tree(project) == before and _tree(tmp_path / "victim") == outside


def test_remove_refuses_a_domain_folder_that_leads_outside(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.move(project / "domains" / "sales", outside)
    (project / "domains" / "sales").symlink_to(outside, target_is_directory=True)
    code, output = mesh("remove", "domain", "sales", "--yes", "--project", str(project))
    assert code == 1 and "leads outside" in output
    assert (outside / "domain.yaml").is_file()


@pytest.mark.parametrize(
    "option, value",
    [
        ("--description", 'ends with a quote"'),
        ("--description", '"""\nimport os; os.system("touch pwned")\n"""'),
        ("--contact", "a.b%c+d-e@x.io"),  # every character Dagster takes in an address
    ],
)
def test_free_text_options_cannot_break_or_inject_into_generated_files(
    project: Path, tmp_path: Path, option: str, value: str
) -> None:
    extra = [] if option == "--contact" else ["--contact", "zeta@example.com"]
    code, output = mesh(
        "new", "domain", "zeta_ops", "--owner", "team:zeta-ops", *extra, option, value, "--project", str(project)
    )
    assert code == 0, output
    definitions = project / "domains" / "zeta_ops" / "definitions.py"
    compile(definitions.read_text(), str(definitions), "exec")
    assert value not in definitions.read_text()
    code, output = mesh("check", "-w", str(project / "workspace.yaml"))
    assert code == 0, output


@pytest.mark.parametrize(
    "workspace, message",
    [
        (None, "workspace.yaml; run mesh from the project's folder or pass --project"),
        ("# no locations yet\n", "workspace.yaml has no load_from list"),
        ("load_from: [\n", "workspace.yaml is not valid YAML"),
    ],
)
def test_a_workspace_that_cannot_take_the_domain_is_refused_first(
    project: Path, workspace: str | None, message: str
) -> None:
    if workspace is None:
        (project / "workspace.yaml").unlink()
    else:
        (project / "workspace.yaml").write_text(workspace)
    before = _tree(project)
    code, output = mesh(
        "new",
        "domain",
        "zeta_ops",
        "--owner",
        "team:zeta-ops",
        "--contact",
        "zeta@example.com",
        "--project",
        str(project),
    )
    assert code == 1 and message in output and "Nothing was written." in output
    assert _tree(project) == before


@pytest.mark.parametrize("contact", ["a}b@x.io", '"evil"@x.io', "x@y.z"])
def test_a_contact_dagster_would_refuse_is_refused_first(project: Path, contact: str) -> None:
    before = _tree(project)
    code, output = mesh(
        "new", "domain", "zeta_ops", "--owner", "team:zeta-ops", "--contact", contact, "--project", str(project)
    )
    assert code == 1 and f"refused: contact {contact!r} is not an e-mail address" in output
    assert _tree(project) == before
