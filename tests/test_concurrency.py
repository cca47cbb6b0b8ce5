"""Runs of different domains in parallel, two runs of one domain, and readers all the while.

Each run is a real `dagster asset materialize` process on one shared instance (configured
like dagster_home/dagster.yaml) and one warehouse. The two runs of the same domain must be
serialized by the domain's concurrency pool, which Dagster reports as blocked steps; the
reader must always see a complete published version, never an error. The same pool guarantee
is checked on an instance configured like dagster_home/dagster.postgres.yaml (pools under a
PostgreSQL advisory lock); that check leaves the lake and its reader out, which do not depend
on where the instance is stored.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from platform_core.catalog.mesh import load_mesh
from platform_core.execution.products import CHECKSUM
from platform_core.storage.lake import table_name
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env
from tests.instances import project_instance

DAGSTER = str(Path(sys.executable).parent / "dagster")


def _producers() -> list[str]:
    """Domains that read no other domain's port: they can run first, side by side."""
    mesh = load_mesh(PROJECT / "workspace.yaml")
    return [d.name for d in mesh.domains if not any(p.port_inputs for p in d.products)]


class Reader(threading.Thread):
    """Reads every port of the given products from the lake in a loop until told to stop: each
    product's ports at one snapshot, which must hold a complete version of the product. Keeps
    what it read of each publication: row count and checksum per port."""

    def __init__(self, warehouse: Warehouse, products: dict[str, list[str]]) -> None:
        super().__init__(daemon=True)
        self.warehouse, self.products = warehouse, products
        self.reads, self.errors, self.stop = 0, [], threading.Event()
        self.seen: dict[tuple[str, int], set[tuple[int, str]]] = {}  # (port, publication) -> what was read

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.read_all()
            except Exception as error:  # noqa: BLE001 - any failure to read is what this test looks for
                self.errors.append(str(error))
            time.sleep(0.02)

    def read_all(self) -> None:
        at = self.warehouse.snapshot()
        with self.warehouse.reader() as con:
            for product, ports in self.products.items():
                published = [p for p in self.warehouse.publications(product) if p.snapshot_id <= at]
                if not published:
                    continue
                if set(published[-1].ports) != set(ports):
                    self.errors.append(f"{product} at snapshot {at}: published {published[-1].ports}")
                for port in ports:
                    schema, table = table_name(f"{product}.{port}")
                    rows, checksum = con.execute(
                        f'SELECT count(*), {CHECKSUM} FROM lake."{schema}"."{table}" AS t AT (VERSION => {at})'
                    ).fetchone()
                    key = (f"{product}.{port}", published[-1].snapshot_id)
                    self.seen.setdefault(key, set()).add((rows, f"{checksum or 0:016x}"))
                self.reads += 1


def _written(instance: dg.DagsterInstance, addresses: list[str]) -> dict[tuple[str, int], tuple[int, str]]:
    """What each publication wrote of each port, as its materialization recorded it."""
    written = {}
    for address in addresses:
        records = instance.fetch_materializations(dg.AssetKey(address.split(".")), limit=100).records
        for record in records:
            metadata = record.asset_materialization.metadata
            written[(address, metadata["lake_snapshot"].value)] = (
                metadata["dagster/row_count"].value,
                metadata["checksum"].value,
            )
    return written


def _as_written(address: str, seen: set[tuple[int, str]], written: tuple[int, str]) -> bool:
    """A port read as its run wrote it; a masked copy (no asset of its own) with the port's rows,
    one content per publication."""
    if address.endswith("__masked"):
        return len(seen) == 1 and next(iter(seen))[0] == written[0]
    return seen == {written}


def _step_intervals(domain: str) -> list[tuple[str, str, float, float]]:
    """(run, step, start, end) of every executed step of `domain`, from the instance's event log."""
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME is the test's, as for the runs
    intervals = []
    for run in instance.get_runs():
        started: dict[str, float] = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or not (event.step_key or "").startswith(f"{domain}__"):
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[event.step_key] = record.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                intervals.append((run.run_id, event.step_key, started[event.step_key], record.timestamp))
    return intervals


def _overlapping(intervals: list[tuple[str, str, float, float]]) -> list[tuple[str, str]]:
    return [
        (f"{a[0][:8]}:{a[1]}", f"{b[0][:8]}:{b[1]}")
        for a in intervals
        for b in intervals
        if a[0] < b[0] and a[2] < b[3] and b[2] < a[3]
    ]


def test_overlap_detection_sees_overlaps() -> None:
    assert _overlapping([("a", "s1", 0.0, 2.0), ("b", "s2", 1.0, 3.0), ("b", "s3", 3.0, 4.0)]) == [("a:s1", "b:s2")]


def _materialize(domains: list[str], env: dict[str, str], logs: list[Path]) -> list[str]:
    """Run `dagster asset materialize` for each domain, all at once; each run's log."""
    processes = [
        subprocess.Popen(
            [DAGSTER, "asset", "materialize", "-m", f"domains.{domain}.definitions", "--select", "*"],
            cwd=PROJECT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        for domain, log in zip(domains, logs, strict=True)
    ]
    try:
        codes = [p.wait(timeout=900) for p in processes]
    finally:
        for process in processes:
            process.kill()  # no-op once it has exited; a run still going after the timeout must not outlive the test
            process.wait(timeout=30)
    texts = [log.read_text() for log in logs]
    assert codes == [0] * len(domains), "\n".join(t[-2000:] for t in texts)
    assert all("RUN_SUCCESS" in t for t in texts)
    assert not any("Could not set lock" in t or "database is locked" in t for t in texts)
    return texts


def _migrate(env: dict[str, str]) -> None:
    """Create the instance's storage once, as `dagster dev` would have, before runs race to do it."""
    subprocess.run([DAGSTER, "instance", "migrate"], cwd=PROJECT, env=env, check=True, capture_output=True, timeout=300)


def test_domains_in_parallel_one_domain_serialized_and_readers_read_what_was_written(tmp_path: Path) -> None:
    producers = _producers()
    assert len(producers) >= 2, "the mesh needs two independent domains"
    first, second = producers[:2]
    mesh = load_mesh(PROJECT / "workspace.yaml")
    consumers = [d.name for d in mesh.domains if d.name not in producers]
    env = subprocess_env(tmp_path)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    _migrate(env)
    warehouse = Warehouse(tmp_path / "warehouse")
    _materialize(producers, env, [tmp_path / f"first-{d}.log" for d in producers])  # consumers need inputs

    products = {f"{d.name}.{p.name}": list(p.published_tables) for d in mesh.domains for p in d.products}
    reader = Reader(warehouse, products)
    reader.start()
    domains = [first, first, second, *consumers]  # two runs of one domain, and every other domain, at once
    try:
        texts = _materialize(domains, env, [tmp_path / f"run{i}.log" for i in range(len(domains))])
    finally:
        reader.stop.set()
        reader.join(timeout=60)

    # the two runs of one domain overlapped, and the pool made one wait for the other's products
    assert any(f"Step blocked by limit for pool duckdb_{first}" in t for t in texts[:2])
    intervals = _step_intervals(first)  # what the pool guarantees, read from the instance's event log
    assert len({run for run, *_ in intervals}) == 3
    assert _overlapping(intervals) == []
    assert reader.errors == []
    assert reader.reads > 0
    # every read of a publication saw exactly the rows and checksum its run wrote
    written = _written(
        dg.DagsterInstance.get(),
        [f"{product}.{port}" for product, ports in products.items() for port in ports if not port.endswith("__masked")],
    )
    wrong = {
        (address, snapshot): seen
        for (address, snapshot), seen in reader.seen.items()
        if not _as_written(address, seen, written[(address.removesuffix("__masked"), snapshot)])
    }
    assert reader.seen and not wrong, wrong
    for product in products:  # first domain: once before and twice now; the others once each run
        runs = 3 if product.startswith(f"{first}.") else 2 if product.startswith(f"{second}.") else 1
        assert len(warehouse.publications(product)) == runs


def test_on_the_postgres_instance_one_domain_is_serialized_and_others_run_alongside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one domain and a run of another, at once, on a fresh PostgreSQL database."""
    first, second = _producers()[:2]  # they need no other domain's products: no runs before
    with project_instance("postgres", tmp_path, monkeypatch) as env:
        _migrate(env)
        texts = _materialize([first, first, second], env, [tmp_path / f"run{i}.log" for i in range(3)])
        assert any(f"Step blocked by limit for pool duckdb_{first}" in t for t in texts[:2])
        intervals = _step_intervals(first)  # read from the PostgreSQL event log, as the runs wrote it
        assert len({run for run, *_ in intervals}) == 2
        assert _overlapping(intervals) == []
        # the other domain's pool is its own: its run went on while the first domain's ran
        others = _step_intervals(second)
        assert others and min(i[2] for i in others) < max(i[3] for i in intervals)
        assert min(i[2] for i in intervals) < max(i[3] for i in others)
