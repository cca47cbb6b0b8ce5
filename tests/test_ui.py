"""What the Dagster UI shows: through the webserver's GraphQL API (the UI's own source), and
in a real browser.

The webserver is started on the project's workspace.yaml, as `scripts/platform.sh` does: every
location must load, and the global asset graph must hold exactly the cross-domain edges the
descriptors declare, so that the domains form one connected graph. Headless Chromium then
opens every HR asset's page and its checks tab, as a user would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import expect, sync_playwright

from platform_core.catalog.mesh import dependency_rows, load_mesh
from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import TimeWindowFreshness
from platform_core.descriptors.workspace import read_workspace
from tests.browser import BROWSER_FLAGS, chromium_or_skip, follow_link, shows_all
from tests.conftest import PROJECT, subprocess_env
from tests.webserver import LOCATIONS, Webserver, running_webserver

pytestmark = pytest.mark.xdist_group("ui")  # one webserver for the module, on one worker

ASSETS = """{ assetNodes { assetKey { path } dependencyKeys { path }
  repository { location { name } } } }"""

RESOURCES = """{ repositoryOrError(repositorySelector:
  {repositoryLocationName: "%s", repositoryName: "__repository__"}) {
  ... on Repository { allTopLevelResourceDetails { name configuredValues { key value } } } } }"""
# What an asset's page shows: owners, description, column schema, checks and freshness.
ASSET_PAGES = """{ assetNodes { assetKey { path } description pools
  owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
  metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name } } } }
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  internalFreshnessPolicy { __typename
    ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds }
    ... on CronFreshnessPolicy { deadlineCron } } } }"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    with running_webserver(PROJECT, tmp_path_factory.mktemp("ui")) as server:
        yield server


def test_a_domain_scaffolded_while_the_platform_runs_appears_and_goes_without_a_restart(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT / "domains" / "sales", project / "domains" / "sales", ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "workspace.yaml").write_text(
        "load_from:\n  - python_module: {module_name: domains.sales.definitions, location_name: sales, "
        "working_directory: .}\n"
    )
    mesh = str(Path(sys.executable).parent / "mesh")
    with running_webserver(project, tmp_path) as server:
        assert [e["name"] for e in server.loaded_locations()] == ["sales"]
        reloader = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "platform_core.dagster.reloader",
                "--url",
                server.url,
                "-w",
                "workspace.yaml",
                "--interval",
                "1",
                "--daemon",  # as scripts/platform.sh runs it: the daemon in step with the UI
                "--logs",
                str(tmp_path / "logs"),
            ],
            cwd=project,
            env=subprocess_env(tmp_path),
            stdout=(tmp_path / "reloader.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(lambda: "daemon started" in (tmp_path / "reloader.log").read_text(), 60, tmp_path)
            time.sleep(2)  # the watcher's first look: the project as it was
            subprocess.run(
                [
                    mesh,
                    "new",
                    "domain",
                    "procurement",
                    "--owner",
                    "team:procurement",
                    "--contact",
                    "buyers@example.com",
                ],
                cwd=project,
                check=True,
                capture_output=True,
                timeout=120,
            )
            started = time.time()
            names = []
            # within a minute on an idle machine; bounded generously, as CI's machines are loaded
            while time.time() - started < 240 and "procurement" not in names:
                time.sleep(0.5)
                names = [e["name"] for e in server.query(LOCATIONS)["workspaceOrError"]["locationEntries"]]
            assert "procurement" in names, (tmp_path / "reloader.log").read_text()
            # the moment the UI shows it, a run launched there is launched by the daemon, not failed
            (product,) = load_domain(project / "domains" / "procurement").products
            run_id = server.launch("procurement", [list(product.key_path(step.name)) for _, step in product.steps])
            assert server.run_status(run_id, timeout=300) == "SUCCESS", (tmp_path / "logs" / "daemon.log").read_text()[
                -3000:
            ]
            assert {e["name"] for e in server.loaded_locations()} == {"sales", "procurement"}
            keys = {tuple(n["assetKey"]["path"]) for n in server.query(ASSETS)["assetNodes"]}
            assert {k for k in keys if k[0] == "procurement"} == {
                ("procurement", product.name, step.name) for _, step in product.steps
            }
            said = rf"\d\d:\d\d:\d\d run {run_id[:8]} \(procurement, __ASSET_JOB\) success in \d+ s"
            _wait_for(lambda: re.search(said, (tmp_path / "reloader.log").read_text()) is not None, 60, tmp_path)
            log = (tmp_path / "reloader.log").read_text()
            assert re.search(r"\d\d:\d\d:\d\d workspace.yaml changed: restarting the daemon", log), log

            subprocess.run(
                [mesh, "remove", "domain", "procurement", "--yes"],
                cwd=project,
                check=True,
                capture_output=True,
                timeout=120,
            )
            started = time.time()
            while time.time() - started < 60 and "procurement" in names:
                time.sleep(1)
                names = [e["name"] for e in server.query(LOCATIONS)["workspaceOrError"]["locationEntries"]]
            assert names == ["sales"]
        finally:
            reloader.terminate()  # and the daemon it runs
            reloader.wait(timeout=90)
        daemons = [
            process.info["pid"]
            for process in psutil.process_iter(["pid", "cmdline", "cwd"])
            if "dagster-daemon" in " ".join(process.info["cmdline"] or []) and process.info["cwd"] == str(project)
        ]
        assert daemons == []  # the watcher stopped its daemon with it


def _wait_for(condition, timeout: float, tmp_path: Path) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, (tmp_path / "reloader.log").read_text()
        time.sleep(0.5)


def test_every_location_of_the_workspace_loads(webserver: Webserver) -> None:
    entries = webserver.loaded_locations()
    expected = [location.name for location in read_workspace(PROJECT / "workspace.yaml")]
    assert sorted(e["name"] for e in entries) == sorted(expected)
    failed = {
        e["name"]: e["locationOrLoadError"]
        for e in entries
        if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"
    }
    assert failed == {}


FREEZING = """
import gc, sys, time, weakref
from platform_core.dagster.webserver import keep_loaded_objects_frozen

class Node:
    pass

def cycle():
    first, second = Node(), Node()
    first.other, second.other = second, first
    return first

def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)

def frozen(thing):
    return not any(o is thing for o in gc.get_objects())  # gc.get_objects() leaves the frozen out

loaded = cycle()  # held, as a webserver holds its workspace
keep_loaded_objects_frozen(freeze_seconds=0.05, thaw_seconds=3.0)
wait_until(lambda: frozen(loaded), 2)

dropped = cycle()  # a request's garbage, in a cycle: still collected
gone = weakref.ref(dropped)
del dropped
wait_until(lambda: gone() is None, 2)

reloaded = cycle()  # held long enough to be frozen, then let go, as a workspace replaced by a reload
wait_until(lambda: frozen(reloaded), 2)
left = weakref.ref(reloaded)
del reloaded
time.sleep(0.3)
print("kept while frozen:", left() is not None)
wait_until(lambda: left() is None, 10)  # the thaw lets one full collection free it
print("freed after the thaw:", left() is None)
"""


def test_the_platforms_webserver_keeps_what_it_holds_out_of_the_collectors_way_and_still_frees_garbage() -> None:
    """Python's full collections walked the webserver's loaded workspace on one question in three
    or four (160 ms each): what it holds is frozen, cycles it drops are still freed, and a thaw
    now and then frees what was frozen and later dropped (a workspace replaced by a reload)."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZING], cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["kept while frozen: True", "freed after the thaw: True"]


def test_global_asset_graph_has_the_declared_cross_domain_edges_and_is_connected(webserver: Webserver) -> None:
    webserver.loaded_locations()
    nodes = webserver.query(ASSETS)["assetNodes"]
    location_of = {tuple(n["assetKey"]["path"]): n["repository"]["location"]["name"] for n in nodes}
    edges = {(tuple(n["assetKey"]["path"]), tuple(d["path"])) for n in nodes for d in n["dependencyKeys"]}
    crossing = {
        (consumer, producer) for consumer, producer in edges if location_of[consumer] != location_of.get(producer)
    }

    mesh = load_mesh(PROJECT / "workspace.yaml")
    declared = {
        ((row["consumer_domain"], row["consumer_product"], reader), tuple(str(row["producer_address"]).split(".")))
        for row in dependency_rows(mesh)
        if row["cross_domain"]
        for reader in row["read_by"]
    }
    assert declared, "the mesh declares cross-domain inputs"
    assert crossing == declared

    # every domain's assets, with the edges between them, form one graph (the platform's
    # catalog reads descriptors, not assets, so it stands apart)
    domains = {d.name for d in mesh.domains}
    keys = {key for key, location in location_of.items() if location in domains}
    assert {key[0] for key in keys} == domains
    component, frontier = set(), [next(iter(keys))]
    while frontier:
        key = frontier.pop()
        if key not in component:
            component.add(key)
            frontier += [b for a, b in edges if a == key] + [a for a, b in edges if b == key]
    assert component == keys


def test_every_domain_shows_its_compute_database_and_the_lake_as_resources(webserver: Webserver) -> None:
    webserver.loaded_locations()
    for domain in load_mesh(PROJECT / "workspace.yaml").domains:
        details = webserver.query(RESOURCES % domain.name)["repositoryOrError"]["allTopLevelResourceDetails"]
        values = {r["name"]: {v["key"]: json.loads(v["value"]) for v in r["configuredValues"]} for r in details}
        # one compute key per domain, so that locations can merge (dg); the serving database people read
        assert set(values) == {f"duckdb_{domain.name}", "lake", "serving"}
        assert values[f"duckdb_{domain.name}"]["database"].endswith(f"/warehouse/compute/{domain.name}.duckdb")
        assert values["lake"]["catalog"].startswith("sqlite:") and values["lake"]["catalog"].endswith(
            "/warehouse/lake/catalog.sqlite"
        )
        assert values["lake"]["data_path"].endswith("/warehouse/lake/data/")


def test_every_domain_asset_page_shows_owner_description_schema_checks_and_freshness(webserver: Webserver) -> None:
    webserver.loaded_locations()
    nodes = webserver.query(ASSET_PAGES)["assetNodes"]
    mesh = load_mesh(PROJECT / "workspace.yaml")
    products = {(p.domain, p.name): p for p in mesh.products}
    pages = [n for n in nodes if tuple(n["assetKey"]["path"][:2]) in products]
    # every step of every product has a page (raw inputs add theirs)
    steps = {(p.domain, p.name, step.name) for p in mesh.products for _, step in p.steps}
    assert steps <= {tuple(n["assetKey"]["path"]) for n in pages}
    for page in pages:
        domain, product_name, name = page["assetKey"]["path"]
        product = products[(domain, product_name)]
        owners = [o.get("team") or o.get("email") for o in page["owners"]]
        assert product.owner.team in owners, (name, owners)
        assert page["description"], name
        assert page["pools"] == [f"duckdb_{domain}"], name
        schemas = [e["schema"] for e in page["metadataEntries"] if e["label"] == "dagster/column_schema"]
        assert len(schemas) == 1 and schemas[0]["columns"], name
        checks = {c["name"]: c["blocking"] for c in page["assetChecksOrError"]["checks"]}
        assert checks.get("schema") is True, (name, checks)
        policy, freshness = page["internalFreshnessPolicy"], freshness_of(product)
        if isinstance(freshness, TimeWindowFreshness):
            assert policy["failWindowSeconds"] == freshness.fail_after.total_seconds(), name
        else:
            assert policy["deadlineCron"] == freshness.cron, name


# --- in a browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_page(webserver: Webserver, tmp_path_factory: pytest.TempPathFactory):
    executable = chromium_or_skip()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_FLAGS)
        # tall, because the UI renders only the rows of long lists that fit on the screen
        page = browser.new_page(viewport={"width": 1600, "height": 4000})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # a page's parts load one after another, slowly on CI
        page.goto(f"{webserver.url}/assets")
        yield page
        browser.close()


def test_a_first_visit_is_not_covered_by_dagsters_community_dialog(webserver: Webserver, browser_page) -> None:
    assert webserver.query("{ shouldShowNux }")["shouldShowNux"] is False  # the instance turns it off
    page = browser_page
    page.goto(f"{webserver.url}/assets")
    expect(page.get_by_text("hr", exact=True).first).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_every_hr_asset_page_shows_owner_description_columns_checks_and_freshness(
    webserver: Webserver, browser_page
) -> None:
    webserver.loaded_locations()
    nodes = {tuple(n["assetKey"]["path"]): n for n in webserver.query(ASSET_PAGES)["assetNodes"]}
    (product,) = [p for p in load_mesh(PROJECT / "workspace.yaml").products if p.domain == "hr"]
    freshness = freshness_of(product)
    assert isinstance(freshness, TimeWindowFreshness)
    fails_after = f"Fails if more than {int(freshness.fail_after.total_seconds() // 3600)} hours"
    keys = sorted(key for key in nodes if key[:2] == ("hr", product.name))
    assert len(keys) >= len(product.steps)

    # each page is told from the one before by its description, which is the asset's own
    descriptions = [nodes[key]["description"].splitlines()[0] for key in keys]
    assert len(set(descriptions)) == len(keys)

    page = browser_page
    page.goto(f"{webserver.url}/assets")
    for key, description in zip(keys, descriptions, strict=True):
        node = nodes[key]
        (schema,) = [e["schema"] for e in node["metadataEntries"] if e["label"] == "dagster/column_schema"]
        follow_link(page, f"/assets/{'/'.join(key)}")
        shows_all(page, [description, product.owner.team, fails_after, *(c["name"] for c in schema["columns"])])

        checks = [c["name"] for c in node["assetChecksOrError"]["checks"]]
        page.get_by_role("tab", name="Checks").click()
        shows_all(page, [f"Checks ({len(checks)})", *checks])
