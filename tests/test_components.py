"""DataProduct as a Dagster Component type, used the way a Dagster engineer uses any component.

In a fresh `dg` project: `dg list components` shows the type, `dg scaffold defs` writes a product
from the templates `mesh new product` uses, `dg check yaml` and `dg check defs` pass, `dg list
defs` lists its assets and checks, and `dg launch` materializes and publishes it with no edits; a
second component reads the first one's port by address, and a broken defs.yaml is refused with
its key. In this repository, `dg` sees every location of the workspace, and scaffolds into a
domain the mesh's own way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from platform_core.dagster.component import DataProduct
from platform_core.dagster.factory import build_domain
from platform_core.dagster.mesh import build_mesh
from platform_core.descriptors.spec import Product
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env

DG = str(Path(sys.executable).parent / "dg")
PYPROJECT = """[project]
name = "shop"
version = "0.1.0"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "shop"
"""
DEFINITIONS = """from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def run_dg(*args: str, cwd: Path, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def scaffold_orders(project: Path, env: dict[str, str]) -> None:
    """`dg scaffold defs` of product shop.orders, as the README shows it."""
    options = ("--domain", "shop", "--contact", "shop-data@example.com")
    scaffolded = run_dg("scaffold", "defs", "platform_core.DataProduct", "orders", *options, cwd=project, env=env)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr


@pytest.fixture
def dg_project(tmp_path: Path) -> Path:
    """A new dg project, as `dg scaffold project` lays one out: shop/definitions.py and shop/defs/."""
    root = tmp_path / "shop-project"
    (root / "shop" / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "definitions.py").write_text(DEFINITIONS)
    return root


def test_a_dagster_engineer_scaffolds_lists_checks_and_materializes_a_product(dg_project: Path, tmp_path: Path) -> None:
    env = subprocess_env(tmp_path)
    listed = run_dg("list", "components", "--json", cwd=dg_project, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "platform_core.DataProduct" in {entry["key"] for entry in json.loads(listed.stdout)["items"]}

    scaffold_orders(dg_project, env)
    folder = dg_project / "shop" / "defs" / "orders"
    component = yaml.safe_load((folder / "defs.yaml").read_text())
    assert component["type"] == "platform_core.DataProduct"
    Product.model_validate(component["attributes"])  # its attributes are a product descriptor, nothing else
    assert (folder / "data" / "orders" / "records.csv").is_file() and (
        folder / "sql" / "gold" / "records.sql"
    ).is_file()

    for check in (("check", "yaml"), ("check", "defs")):
        checked = run_dg(*check, cwd=dg_project, env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    defs = run_dg("list", "defs", "--json", cwd=dg_project, env=env)
    assert defs.returncode == 0, defs.stderr
    listing = json.loads(defs.stdout)
    assets = {entry["asset_key"] for entry in listing["assets"]}
    assert assets == {"shop/orders/raw_records", "shop/orders/clean_records", "shop/orders/orders"}
    assert "shop/orders/orders:amount_not_negative" in {entry["key"] for entry in listing["asset_checks"]}
    assert [s["name"] for s in listing["schedules"]] == ["shop__orders__schedule"]

    launched = run_dg("launch", "--assets", "*", cwd=dg_project, env=env, timeout=300)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    published = Warehouse(tmp_path / "warehouse").read("shop.orders.orders")
    assert published.count("*").fetchone()[0] > 0


def test_a_component_reads_another_components_port_and_a_broken_one_is_refused_with_its_key(
    dg_project: Path, tmp_path: Path
) -> None:
    env = subprocess_env(tmp_path)
    scaffold_orders(dg_project, env)
    consumer = dg_project / "shop" / "defs" / "orders_by_site"
    (consumer / "sql").mkdir(parents=True)
    (consumer / "sql" / "by_site.sql").write_text("SELECT site, count(*) AS records FROM records GROUP BY site")
    attributes = {
        "name": "orders_by_site",
        "domain": "shop",
        "title": "Orders by site",
        "description": "How many activity records each site has, for the site managers' weekly review.",
        "owner": {"team": "shop", "contact": "shop-data@example.com"},
        "version": "0.1.0",
        "status": "draft",
        "consumers": [{"name": "site_managers", "purpose": "Weekly review of each site's activity."}],
        "sla": {"freshness": {"fail_after": "26h"}},
        "schedule": {"cron": "0 7 * * *"},
        "inputs": [{"name": "records", "kind": "port", "address": "shop.orders.orders"}],
        "output_ports": [
            {
                "name": "by_site",
                "kind": "view",
                "classification": "internal",
                "sql": "sql/by_site.sql",
                "description": "One row per site with the number of its records.",
                "depends_on": ["records"],
                "columns": [
                    {"name": "site", "type": "string", "description": "Site code, lower case."},
                    {"name": "records", "type": "integer", "description": "Records of the site."},
                ],
            }
        ],
    }
    (consumer / "defs.yaml").write_text(
        yaml.safe_dump({"type": "platform_core.DataProduct", "attributes": attributes}, sort_keys=False)
    )
    listing = run_dg("list", "defs", "--json", cwd=dg_project, env=env)
    assert listing.returncode == 0, listing.stderr
    (by_site,) = [a for a in json.loads(listing.stdout)["assets"] if a["asset_key"] == "shop/orders_by_site/by_site"]
    assert by_site["dependency_keys"] == ["shop/orders/orders"]  # the address resolved to the producer's asset
    assert "shop__orders_by_site__follow_upstream_ports" in {s["name"] for s in json.loads(listing.stdout)["sensors"]}

    broken = dict(attributes, colour="blue")
    (consumer / "defs.yaml").write_text(yaml.safe_dump({"type": "platform_core.DataProduct", "attributes": broken}))
    checked = run_dg("check", "yaml", cwd=dg_project, env=env)
    assert checked.returncode == 1 and "colour" in checked.stdout + checked.stderr


def test_dg_sees_every_location_of_the_repository_as_the_workspace_builds_them(tmp_path: Path) -> None:
    env = dict(subprocess_env(tmp_path), MESH_WAREHOUSE="/nonexistent/mesh-warehouse")
    listing = run_dg("list", "defs", "--json", cwd=PROJECT, env=env)
    assert listing.returncode == 0, listing.stderr
    keys = {entry["asset_key"] for entry in json.loads(listing.stdout)["assets"]}
    settings = Settings.from_env({"MESH_WAREHOUSE": "/nonexistent/mesh-warehouse"})
    expected = {key.to_user_string() for key in build_mesh(settings).resolve_asset_graph().get_all_asset_keys()}
    assert keys == expected
    assert {"hr/overtime/fact_overtime", "sales/orders/dim_customer", "platform/mesh/catalog_ports"} <= keys
    hr = run_dg("list", "defs", "--json", "--path", "domains/hr", cwd=PROJECT, env=env)
    assert {e["asset_key"].split("/")[0] for e in json.loads(hr.stdout)["assets"]} == {"hr"}
    checked = run_dg("check", "defs", cwd=PROJECT, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_in_a_mesh_of_domains_dg_scaffold_points_at_mesh_new_product_and_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "domains", project / "domains", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("workspace.yaml", "pyproject.toml"):
        shutil.copy(PROJECT / name, project / name)
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    scaffolded = run_dg(
        "scaffold",
        "defs",
        "platform_core.DataProduct",
        "hr/products/absence",
        "--template",
        "dimensional",
        cwd=project,
        env=subprocess_env(tmp_path),
    )
    assert scaffolded.returncode != 0
    assert "mesh new product hr absence --template dimensional" in scaffolded.stdout + scaffolded.stderr
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before


def test_the_component_model_is_the_descriptor_model_and_domains_build_through_it() -> None:
    assert DataProduct.get_model_cls() is Product
    defs = build_domain("hr")
    (product,) = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    assert product.node_def.name == "hr__overtime"
    from platform_core.descriptors.loader import load_domain

    (overtime,) = load_domain(PROJECT / "domains" / "hr").products
    component = DataProduct.of(overtime)
    assert isinstance(component, Product) and component.model_dump() == overtime.model_dump()
    built = component.definitions(Settings.from_env(), [], follow=False)
    assert {s.key for s in built.resolve_all_asset_specs()} == {s.key for s in defs.resolve_all_asset_specs()}
