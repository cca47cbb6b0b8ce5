"""The lake of published ports: one product version at a time, time travel, many processes.

Every port of a product changes in one DuckLake commit or not at all; readers in other
processes always see one whole version; writers of two domains land side by side; a
writer killed mid-publication leaves the previous version whole and nothing to repair.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from platform_core.dagster.factory import build_domain
from platform_core.dagster.platform_location import build_platform
from platform_core.descriptors.loader import load_domain
from platform_core.execution.products import run_product
from platform_core.settings import Settings
from platform_core.storage.lake import LakeConfig, NotPublished
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, materialize
from tests.factories import (
    ORDERS_CSV,
    copy_of_the_mesh,
    product_yaml,
    run_steps,
    write_consumer_domain,
    write_domain,
)

WORKER = [sys.executable, "-m", "tests.lake_worker"]
SHOP_PORTS = ("shop.sales.customers", "shop.sales.daily_sales")


def _rows(warehouse: Warehouse, address: str, at=None) -> list[tuple]:
    return sorted(warehouse.read(address, at=at).fetchall(), key=repr)


def _orders(count: int) -> str:
    """`count` paid orders over a few days: both shop ports count them all (see _counting_product)."""
    lines = [f"{i},customer{i % 7},{i % 50 + 1}.25,paid,2026-01-0{i % 5 + 1} 10:00:00" for i in range(1, count + 1)]
    return "order_id,customer,amount,status,ordered_at\n" + "\n".join(lines) + "\n"


def _counting_product() -> dict:
    """shop.sales whose two ports count the same orders: sum(order_count) = sum(orders) in any one version."""
    product = product_yaml()
    product["layers"]["silver"][0]["quality"] = []
    return product


COUNT_ALL_DAILY = """
SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue FROM orders GROUP BY 1
"""


def _worker(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([*WORKER, *args], cwd=PROJECT, stdout=subprocess.PIPE, text=True, **popen)


def _result(process: subprocess.Popen, timeout: float = 240) -> dict:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


# --- one product version at a time ------------------------------------------------------------


def test_a_late_blocking_failure_changes_no_port_and_triggers_no_consumer(tmp_path: Path, instance) -> None:
    domains = copy_of_the_mesh(tmp_path)
    settings = Settings(warehouse_root=tmp_path / "warehouse")
    warehouse = Warehouse(settings.warehouse_root)
    finance = build_domain(domains / "finance", settings)
    for domain in ("hr", "sales", "finance"):
        assert materialize(build_domain(domains / domain, settings), instance).success
    automation = dg.evaluate_automation_conditions(defs=finance, instance=instance)
    assert automation.total_requested == 0
    hr_ports = [f"hr.overtime.{port.name}" for port in load_domain(domains / "hr").products[0].output_ports]
    before = {address: _rows(warehouse, address) for address in hr_ports}
    published = warehouse.current("hr.overtime.dim_entity")

    # New source data that changes a dimension, and a blocking rule that the last view breaks.
    entities = domains / "hr" / "data" / "entities.csv"
    entities.write_text(entities.read_text(encoding="utf-8").replace("(Paris)", "(Lyon)"), encoding="utf-8")
    descriptor = domains / "hr" / "products" / "overtime" / "product.yaml"
    data = yaml.safe_load(descriptor.read_text(encoding="utf-8"))
    (analysis,) = [port for port in data["output_ports"] if port["name"] == "overtime_analysis"]
    analysis["quality"].append({"type": "row_count", "max": 10, "name": "at_most_ten_rows"})
    descriptor.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = materialize(build_domain(domains / "hr", settings), instance)

    assert not result.success
    evaluations = result.get_asset_check_evaluations()
    failed = [(e.asset_key.path[-1], e.check_name) for e in evaluations if not e.passed]
    assert failed == [("overtime_analysis", "at_most_ten_rows")]
    # the changed dimension was staged and passed its audit before the late step failed...
    assert {e.check_name for e in evaluations if e.asset_key.path[-1] == "dim_entity" and e.passed} >= {"schema"}
    # ...and still no port moved: every HR port is the previous version, row for row
    assert warehouse.current("hr.overtime.dim_entity") == published
    assert {address: _rows(warehouse, address) for address in hr_ports} == before
    assert all("(Lyon)" not in str(row) for row in before["hr.overtime.dim_entity"])
    automation = dg.evaluate_automation_conditions(defs=finance, instance=instance, cursor=automation.cursor)
    assert automation.total_requested == 0  # nothing was published, so finance stays put

    analysis["quality"].pop()  # the same new data, now publishable: finance follows
    descriptor.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert materialize(build_domain(domains / "hr", settings), instance).success
    assert any("(Lyon)" in str(row) for row in _rows(warehouse, "hr.overtime.dim_entity"))
    automation = dg.evaluate_automation_conditions(defs=finance, instance=instance, cursor=automation.cursor)
    assert automation.total_requested > 0


def test_a_subset_of_steps_publishes_that_subset_in_one_commit(tmp_path: Path, settings: Settings, instance) -> None:
    domain_dir = write_domain(tmp_path)
    assert materialize(build_domain(domain_dir, settings), instance).success
    warehouse = Warehouse(settings.warehouse_root)
    customers = _rows(warehouse, "shop.sales.customers")
    write_domain(tmp_path, files={"data/orders.csv": _orders(12)})
    assert materialize(build_domain(domain_dir, settings), instance, "*shop/sales/daily_sales").success
    (first, second) = warehouse.publications("shop.sales")
    assert first.ports == ("customers", "daily_sales") and second.ports == ("daily_sales",)
    assert _rows(warehouse, "shop.sales.customers") == customers  # not selected, so untouched
    assert sum(n for _, n, _ in _rows(warehouse, "shop.sales.daily_sales")) == 12


def test_a_warehouse_named_by_a_relative_path_reads_what_was_published(
    tmp_path: Path, settings: Settings, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the README writes it: `Warehouse(Path("warehouse"))` from the folder that holds it."""
    assert materialize(build_domain(write_domain(tmp_path), settings), instance).success
    monkeypatch.chdir(settings.warehouse_root.parent)
    relative = Warehouse(Path(settings.warehouse_root.name))
    assert relative.root == settings.warehouse_root.resolve()
    assert _rows(relative, "shop.sales.customers") == _rows(Warehouse(settings.warehouse_root), "shop.sales.customers")


# --- versions to read by -------------------------------------------------------------------


def test_time_travel_by_snapshot_time_and_product_version(tmp_path: Path, settings: Settings, instance) -> None:
    domain_dir = write_domain(tmp_path)
    assert materialize(build_domain(domain_dir, settings), instance).success
    warehouse = Warehouse(settings.warehouse_root)
    first = warehouse.current("shop.sales.daily_sales")
    version_1 = _rows(warehouse, "shop.sales.daily_sales")
    between = datetime.now(UTC)
    product = product_yaml()
    product["version"] = "1.1.0"
    write_domain(tmp_path, product, files={"data/orders.csv": ORDERS_CSV + "5,dave,3.00,paid,2026-01-04 08:00:00\n"})
    assert materialize(build_domain(domain_dir, settings), instance).success
    version_2 = _rows(warehouse, "shop.sales.daily_sales")
    assert version_1 != version_2

    assert _rows(warehouse, "shop.sales.daily_sales", at=first.snapshot_id) == version_1
    assert _rows(warehouse, "shop.sales.daily_sales", at="1.0.0") == version_1
    assert _rows(warehouse, "shop.sales.daily_sales", at=between) == version_1
    assert _rows(warehouse, "shop.sales.daily_sales", at="1.1.0") == version_2
    assert [p.version for p in warehouse.publications("shop.sales.daily_sales")] == ["1.0.0", "1.1.0"]
    with pytest.raises(NotPublished, match=r"never published at version 2.0.0 .*versions kept: 1.0.0, 1.1.0"):
        warehouse.read("shop.sales.daily_sales", at="2.0.0")
    with pytest.raises(NotPublished, match="history starts after"):
        warehouse.read("shop.sales.daily_sales", at=datetime(2000, 1, 1))

    # The same from SQL, as docs/storage.md tells a notebook or BI user to type it.
    catalog = settings.warehouse_root / "lake" / "catalog.sqlite"
    with duckdb.connect() as con:
        con.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS lake (READ_ONLY)")
        con.execute(
            "SET VARIABLE v = (SELECT max(snapshot_id) FROM lake.snapshots() "
            "WHERE json_extract_string(commit_extra_info, 'product') = 'shop.sales' "
            "AND json_extract_string(commit_extra_info, 'version') = '1.0.0')"
        )
        old = con.execute("SELECT * FROM lake.shop.sales__daily_sales AT (VERSION => getvariable('v'))").fetchall()
        assert sorted(old, key=repr) == version_1
        assert sorted(con.execute("FROM lake.shop.sales__daily_sales").fetchall(), key=repr) == version_2


def test_a_run_reads_every_input_at_the_snapshot_it_started_from(tmp_path: Path, settings: Settings, instance) -> None:
    shop = build_domain(write_domain(tmp_path), settings)
    ledger_dir = write_consumer_domain(tmp_path)
    assert materialize(shop, instance).success
    warehouse = Warehouse(settings.warehouse_root)
    started_from, revenue_then = warehouse.snapshot(), _rows(warehouse, "shop.sales.daily_sales")
    write_domain(tmp_path, files={"data/orders.csv": _orders(9)})  # the producer publishes again meanwhile
    assert materialize(shop, instance).success

    (vat,) = load_domain(ledger_dir).products
    lake = warehouse.lake
    with duckdb.connect(str(warehouse.database("ledger"))) as con:
        lake.attach(con)
        outcome = run_product(con, lake, vat, build={"vat_by_day"}, input_snapshot=started_from, run_id="pinned")
    assert not outcome.failed
    read = {(day, revenue) for day, revenue, _ in _rows(warehouse, "ledger.vat.vat_by_day")}
    assert read == {(day, revenue) for day, _, revenue in revenue_then}

    now = warehouse.snapshot()
    result = materialize(build_domain(ledger_dir, settings), instance)  # a Dagster run pins its own, in a tag
    assert result.success
    assert instance.get_run_by_id(result.run_id).tags["mesh/input_snapshot"] == str(now)

    # A re-execution inherits its parent's tags, and pins anew: it reads what was published since.
    inherited = {"mesh/input_snapshot": str(started_from), "mesh/input_snapshot_run": "the-parent-run"}
    retry = dg.materialize(
        list(build_domain(ledger_dir, settings).assets),
        instance=instance,
        tags=inherited,
        resources=build_domain(ledger_dir, settings).resources,
    )
    assert instance.get_run_by_id(retry.run_id).tags["mesh/input_snapshot"] == str(warehouse.snapshot() - 1)
    read = {(day, revenue) for day, revenue, _ in _rows(warehouse, "ledger.vat.vat_by_day")}
    assert read == {(day, revenue) for day, _, revenue in _rows(warehouse, "shop.sales.daily_sales")}


def test_a_failed_promotion_still_reports_the_publication(tmp_path: Path, settings: Settings, monkeypatch) -> None:
    (product,) = load_domain(write_domain(tmp_path)).products
    warehouse = Warehouse(settings.warehouse_root)
    steps = {step.name for _, step in product.steps}

    def disk_full(*_args: object, **_options: object) -> None:
        raise duckdb.IOException("IO Error: no space left on device")

    monkeypatch.setattr("platform_core.execution.products.promote", disk_full)
    warehouse.database("shop").parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse.database("shop"))) as con:
        warehouse.lake.attach(con)
        outcome = run_product(con, warehouse.lake, product, build=steps, input_snapshot=0, run_id="r")
    assert outcome.built and outcome.publication == warehouse.current("shop.sales.daily_sales")
    assert outcome.promotion_error == "IO Error: no space left on device"


# --- many processes ----------------------------------------------------------------------------


def test_readers_in_other_processes_always_see_one_whole_product_version(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain_dir = write_domain(
        tmp_path,
        _counting_product(),
        files={"products/sales/sql/daily_sales.sql": COUNT_ALL_DAILY, "data/orders.csv": _orders(5)},
    )
    assert materialize(build_domain(domain_dir, settings), instance).success
    stop = tmp_path / "stop"
    readers = [_worker("read", str(settings.warehouse_root), str(stop)) for _ in range(2)]
    try:
        deadline = time.time() + 120
        while len(list(tmp_path.glob("stop.ready.*"))) < len(readers):
            assert time.time() < deadline and all(r.poll() is None for r in readers), "the readers did not start"
            time.sleep(0.05)
        for count in (40, 7, 300, 12, 150, 60):
            write_domain(
                tmp_path,
                _counting_product(),
                files={"products/sales/sql/daily_sales.sql": COUNT_ALL_DAILY, "data/orders.csv": _orders(count)},
            )
            assert materialize(build_domain(domain_dir, settings), instance).success
    finally:
        stop.touch()
    seen = [_result(reader) for reader in readers]
    for reader in seen:
        assert reader["errors"] == []
        assert reader["reads"] > 0
    assert len({v for reader in seen for v in reader["versions"]}) >= 2  # they read while versions changed
    assert {v for reader in seen for v in reader["versions"]} <= {5, 40, 7, 300, 12, 150, 60}


def test_concurrent_commits_from_many_processes_all_land(tmp_path: Path) -> None:
    """The failure this guards against: 3 processes x 20 commits on a SQLite catalog lost commits."""
    root = tmp_path / "warehouse"
    warehouse = Warehouse(root)
    with warehouse.lake.connect(read_only=False):
        pass  # create the lake once, as the first run would
    start = time.time() + 3
    writers = [_worker("commit", str(root), domain, "20", str(start)) for domain in ("alpha", "beta", "gamma")]
    results = [_result(writer) for writer in writers]
    for domain, result in zip(("alpha", "beta", "gamma"), results, strict=True):
        assert len(result["snapshots"]) == 20
        assert [p.snapshot_id for p in warehouse.publications(f"{domain}.load")] == result["snapshots"]
    assert len({s for result in results for s in result["snapshots"]}) == 60


def test_two_domains_publishing_at_the_same_moment_both_land(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    shop, depot = write_domain(tmp_path), write_domain(tmp_path, name="depot")
    with Warehouse(root).lake.connect(read_only=False):
        pass
    start = time.time() + 8  # both processes import Dagster first, then start together
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    runs = [_worker("materialize", str(domain), str(root), "3", str(start), env=env) for domain in (shop, depot)]
    assert [_result(run, timeout=600)["successes"] for run in runs] == [3, 3]
    warehouse = Warehouse(root)
    shop_snapshots = [p.snapshot_id for p in warehouse.publications("shop.sales")]
    depot_snapshots = [p.snapshot_id for p in warehouse.publications("depot.sales")]
    assert len(shop_snapshots) == 3 and len(depot_snapshots) == 3
    assert _rows(warehouse, "shop.sales.daily_sales") == _rows(warehouse, "depot.sales.daily_sales")


def test_a_publication_killed_mid_way_leaves_the_previous_version_whole(
    tmp_path: Path, settings: Settings, instance
) -> None:
    domain_dir = write_domain(tmp_path)
    assert materialize(build_domain(domain_dir, settings), instance).success
    warehouse = Warehouse(settings.warehouse_root)
    published = warehouse.current("shop.sales.customers")
    before = {address: _rows(warehouse, address) for address in SHOP_PORTS}
    data = settings.warehouse_root / "lake" / "data"

    for pause in (0.0, 0.5):
        files_before = set(data.rglob("*.parquet"))
        writer = _worker("publish-big", str(settings.warehouse_root), start_new_session=True)
        deadline = time.time() + 120
        while not set(data.rglob("*.parquet")) - files_before:  # it is writing the new version's files
            assert writer.poll() is None and time.time() < deadline, "the publication ended before it was killed"
            time.sleep(0.02)
        time.sleep(pause)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)

        assert warehouse.current("shop.sales.customers") == published  # the lake opens, on the previous version
        assert {address: _rows(warehouse, address) for address in SHOP_PORTS} == before

    with warehouse.lake.connect(read_only=False) as con:  # the killed writers left files no commit recorded
        orphans = con.execute(
            "SELECT count(*) FROM ducklake_delete_orphaned_files('lake', dry_run => true, older_than => now())"
        ).fetchone()[0]
    assert orphans >= 1  # the last one's: each writer deletes what the one killed before it left

    # Nothing to repair: the next run publishes, and its commit deletes the killed writers' files.
    assert materialize(build_domain(domain_dir, settings), instance).success
    assert warehouse.current("shop.sales.customers").snapshot_id > published.snapshot_id
    with warehouse.lake.connect(read_only=False) as con:
        assert warehouse.lake.expire(con, keep=timedelta(days=30), orphans_after=timedelta(0))["orphans_deleted"] == 0
    assert {address: _rows(warehouse, address) for address in SHOP_PORTS} == before


# --- retention ---------------------------------------------------------------------------------


def test_retention_expires_old_snapshots_and_deletes_their_files(tmp_path: Path, instance) -> None:
    settings = Settings(warehouse_root=tmp_path / "warehouse", lake_retention=timedelta(days=7))
    domain_dir = write_domain(tmp_path)
    warehouse = Warehouse(settings.warehouse_root)
    for count in (5, 8, 13):
        write_domain(tmp_path, files={"data/orders.csv": _orders(count)})
        assert materialize(build_domain(domain_dir, settings), instance).success
    # another domain publishes after shop's last: shop's current version is no longer the lake's latest commit
    assert materialize(build_domain(write_domain(tmp_path, name="depot"), settings), instance).success
    first, *_, last = warehouse.publications("shop.sales")
    current = _rows(warehouse, "shop.sales.daily_sales")
    files = set((settings.warehouse_root / "lake" / "data").rglob("*.parquet"))

    job = build_platform(settings).get_job_def("lake_maintenance")
    assert job.run_config["ops"] == {"expire_lake_history": {"config": {"keep": "7d"}}}  # MESH_LAKE_RETENTION
    result = job.execute_in_process(instance=instance)
    assert result.success  # nothing is a week old yet: the daily job keeps everything
    assert result.output_for_node("expire_lake_history")["snapshots_expired"] == 0
    assert _rows(warehouse, "shop.sales.daily_sales", at=first.snapshot_id) != current

    with warehouse.lake.connect(read_only=False) as con:  # eight days later
        counts = warehouse.lake.expire(
            con, keep=timedelta(days=7), grace=timedelta(0), now=datetime.now(UTC) + timedelta(days=8)
        )
    assert counts["snapshots_expired"] >= 3 and counts["files_deleted"] >= 1
    with pytest.raises(NotPublished):
        warehouse.read("shop.sales.daily_sales", at=first.snapshot_id)
    assert _rows(warehouse, "shop.sales.daily_sales") == current  # the current version stays whole
    assert warehouse.current("shop.sales.daily_sales") == last  # and so does the record of its publication
    assert _rows(warehouse, "shop.sales.daily_sales", at="1.0.0") == current
    assert len(set((settings.warehouse_root / "lake" / "data").rglob("*.parquet"))) < len(files)


def test_the_lake_moves_by_settings(tmp_path: Path) -> None:
    env = {
        "MESH_WAREHOUSE": str(tmp_path / "w"),
        "MESH_LAKE_CATALOG": f"sqlite:{tmp_path / 'meta' / 'lake.db'}",
        "MESH_LAKE_DATA": str(tmp_path / "files"),
        "MESH_LAKE_RETENTION": "90d",
    }
    settings = Settings.from_env(env)
    assert settings.lake_config == LakeConfig(
        catalog=f"sqlite:{tmp_path / 'meta' / 'lake.db'}", data_path=f"{tmp_path / 'files'}/"
    )
    assert settings.lake_retention == timedelta(days=90)
    assert Settings.from_env({"MESH_WAREHOUSE": str(tmp_path / "w")}).lake_config == LakeConfig.local(tmp_path / "w")
    with pytest.raises(ValueError, match="MESH_LAKE_RETENTION: bad duration"):
        Settings.from_env({"MESH_LAKE_RETENTION": "a month"})
    with pytest.raises(Exception, match="bad lake catalog 'mysql:x'"):
        Settings.from_env({"MESH_LAKE_CATALOG": "mysql:x"})


def test_a_fresh_warehouse_answers_nothing_published_without_opening_a_database(tmp_path: Path, monkeypatch) -> None:
    """Governance asks the lake for every product's last contract when a domain loads: before
    anything is published that must cost nothing (it cost 0.4 s per product, loading extensions)."""

    def refuse(*_args: object) -> None:
        raise AssertionError("no DuckDB database or extension should be opened for an empty lake")

    monkeypatch.setattr("platform_core.storage.extensions.load", refuse)
    monkeypatch.setattr("platform_core.storage.warehouse.duckdb.connect", refuse)
    warehouse = Warehouse(tmp_path / "warehouse")
    assert warehouse.publications("shop.sales") == []
    assert warehouse.published_contract("shop.sales") is None
    with pytest.raises(NotPublished, match="nothing has been published yet"):
        warehouse.snapshot()


def test_published_contracts_are_kept_beside_the_catalog_while_it_is_unchanged(tmp_path: Path, monkeypatch) -> None:
    """Governance reads every published contract when a location loads: kept with the state of the
    lake's catalog, read again once a commit has changed it, never read from a file others may write."""
    warehouse = Warehouse(tmp_path / "warehouse")

    def publish(description: str) -> None:
        product = product_yaml()
        product["output_ports"][0]["columns"][0]["description"] = description  # part of the contract
        (loaded,) = load_domain(write_domain(tmp_path, product)).products
        assert run_steps(warehouse, loaded, masking_key="k").publication is not None
        hour_ago = time.time_ns() - 3600 * 10**9
        catalog = warehouse.lake.config.sqlite_file
        for path in (catalog, Path(f"{catalog}-wal")):  # settled: not written within the racy window
            if path.exists():
                os.utime(path, ns=(hour_ago, hour_ago))

    def lake_read_again() -> dict[str, str]:
        return Warehouse._read_published_contracts(warehouse)

    publish("The customer.")
    first = warehouse.published_contracts()
    assert "The customer." in first["shop.sales"]
    with monkeypatch.context() as patched:  # kept: no read of the lake
        patched.setattr(Warehouse, "_read_published_contracts", lambda _: pytest.fail("the lake was read"))
        assert warehouse.published_contracts() == first
    publish("The customer, by name.")  # a new contract: the catalog changed
    second = warehouse.published_contracts()
    assert second == lake_read_again() and "The customer, by name." in second["shop.sales"]
    kept = next(warehouse.lake.config.sqlite_file.parent.glob(".*.contracts.json"))
    kept.chmod(0o666)  # writable by others: not trusted
    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "_read_published_contracts", lambda _: {"shop.sales": "a forged contract"})
        assert warehouse.published_contracts() == {"shop.sales": "a forged contract"}
