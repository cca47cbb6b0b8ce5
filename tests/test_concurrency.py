"""Runs of different domains in parallel, two runs of one domain, and readers all the while.

Each run is a real `dagster asset materialize` process on one shared instance (configured
like dagster_home/dagster.yaml) and one warehouse. The two runs of the same domain must be
serialized by the domain's concurrency pool, which Dagster reports as blocked steps; the
reader must always see a complete published version, never an error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg

from platform_core.catalog.mesh import load_mesh
from platform_core.storage.lake import NotPublished
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env

DAGSTER = str(Path(sys.executable).parent / "dagster")


def _producers() -> list[str]:
    """Domains that read no other domain's port: they can run first, side by side."""
    mesh = load_mesh(PROJECT / "workspace.yaml")
    return [d.name for d in mesh.domains if not any(p.port_inputs for p in d.products)]


class Reader(threading.Thread):
    """Reads every port of the given products from the lake in a loop until told to stop: each
    product's ports at one snapshot, which must hold a complete version of the product."""

    def __init__(self, warehouse: Warehouse, products: dict[str, list[str]]) -> None:
        super().__init__(daemon=True)
        self.warehouse, self.products = warehouse, products
        self.reads, self.errors, self.stop = 0, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                at = self.warehouse.snapshot()
            except NotPublished:  # the first run has not created the lake yet
                time.sleep(0.05)
                continue
            except Exception as error:  # noqa: BLE001 - reported, and the reader goes on
                self.errors.append(f"snapshot: {error}")
                continue
            for product, ports in self.products.items():
                try:
                    published = [p for p in self.warehouse.publications(product) if p.snapshot_id <= at]
                    if not published:
                        continue
                    if set(published[-1].ports) != set(ports):
                        self.errors.append(f"{product} at snapshot {at}: published {published[-1].ports}")
                    for port in ports:
                        self.warehouse.read(f"{product}.{port}", at=at).count("*").fetchall()
                    self.reads += 1
                except Exception as error:  # noqa: BLE001 - any failure to read is what this test looks for
                    self.errors.append(f"{product} at snapshot {at}: {error}")
            time.sleep(0.05)


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
    return [(f"{a[0][:8]}:{a[1]}", f"{b[0][:8]}:{b[1]}") for a in intervals for b in intervals
            if a[0] < b[0] and a[2] < b[3] and b[2] < a[3]]


def test_overlap_detection_sees_overlaps() -> None:
    assert _overlapping([("a", "s1", 0.0, 2.0), ("b", "s2", 1.0, 3.0), ("b", "s3", 3.0, 4.0)]) == [("a:s1", "b:s2")]


def test_parallel_domains_serialized_same_domain_and_readers(tmp_path: Path) -> None:
    producers = _producers()
    assert len(producers) >= 2, "the mesh needs two independent domains"
    first, second = producers[:2]
    env = subprocess_env(tmp_path)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    # Create the instance's storage once, as `dagster dev` would have, before runs race to do it.
    subprocess.run([DAGSTER, "instance", "migrate"], cwd=PROJECT, env=env, check=True, capture_output=True)
    warehouse = Warehouse(tmp_path / "warehouse")
    mesh = load_mesh(PROJECT / "workspace.yaml")
    products = {f"{d.name}.{p.name}": [port.name for port in p.output_ports]
                for d in mesh.domains if d.name in (first, second) for p in d.products}
    reader = Reader(warehouse, products)
    reader.start()

    logs = [tmp_path / f"run{i}.log" for i in range(3)]
    processes = [
        subprocess.Popen([DAGSTER, "asset", "materialize", "-m", f"domains.{domain}.definitions", "--select", "*"],
                         cwd=PROJECT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        for domain, log in zip((first, first, second), logs)
    ]
    codes = [p.wait(timeout=900) for p in processes]
    reader.stop.set()
    reader.join(timeout=30)

    texts = [log.read_text() for log in logs]
    assert codes == [0, 0, 0], "\n".join(t[-2000:] for t in texts)
    assert all("RUN_SUCCESS" in t for t in texts)
    assert not any("Could not set lock" in t for t in texts)
    # the two runs of one domain overlapped, and the pool made one wait for the other's steps
    assert any(f"Step blocked by limit for pool duckdb_{first}" in t for t in texts[:2])
    intervals = _step_intervals(first)  # what the pool guarantees, read from the instance's event log
    assert len({run for run, *_ in intervals}) == 2
    assert _overlapping(intervals) == []
    assert reader.errors == []
    assert reader.reads > 0
    for product, ports in products.items():  # both runs of the first domain published, one after the other
        assert len(warehouse.publications(product)) == (2 if product.startswith(f"{first}.") else 1)
