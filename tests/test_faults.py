"""Faults: a run killed at any point blocks nothing and leaves every port whole.

HR runs as `dagster asset materialize` processes on one instance configured like
dagster_home/dagster.yaml, alternating between two versions of its source data. Each run
is killed with SIGKILL at another point; then every HR port must read as one whole
version (all ports of version A, or all of version B), the compute database must open,
and the next run must succeed without a hand, within a bounded time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from platform_core.dagster.dead_runs import WORKER_TAG, build_dead_run_sensor, this_worker
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT, subprocess_env
from tests.instances import BACKENDS, project_instance

pytestmark = pytest.mark.xdist_group("faults")

DAGSTER = str(Path(sys.executable).parent / "dagster")
NEXT_RUN_SECONDS = 240  # a run after a kill must be done within this, reaping included


@pytest.fixture
def hr_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "domains" / "hr", root / "domains" / "hr", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "domains" / "__init__.py").write_text("")
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    subprocess.run(
        [DAGSTER, "instance", "migrate"],
        cwd=root,
        env=subprocess_env(tmp_path),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root


def _set_version(root: Path, version: str) -> None:
    """Version A is the shipped data; version B renames one legal entity."""
    entities = root / "domains" / "hr" / "data" / "entities.csv"
    text = (PROJECT / "domains" / "hr" / "data" / "entities.csv").read_text(encoding="utf-8")
    entities.write_text(text if version == "A" else text.replace("(Paris)", "(Lyon)"), encoding="utf-8")


def _start_run(root: Path, tmp_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [DAGSTER, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*"],
        cwd=root,
        env=subprocess_env(tmp_path),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen, log: Path) -> None:
    try:
        code = process.wait(timeout=NEXT_RUN_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"the run did not finish in {NEXT_RUN_SECONDS} s:\n{log.read_text()[-3000:]}") from None
    assert code == 0, log.read_text()[-3000:]


def _fingerprints(warehouse: Warehouse, ports: list[str]) -> tuple:
    """Every HR port's row count and checksum, read at one snapshot."""
    at = warehouse.snapshot()
    with warehouse.reader() as con:
        return tuple(
            con.execute(
                f"SELECT count(*), bit_xor(hash(t)) FROM lake.hr.overtime__{port} AS t AT (VERSION => {at})"
            ).fetchone()
            for port in ports
        )


def _wait_for_step(instance: dg.DagsterInstance, known: set[str], deadline: float) -> str:
    """The new run's id, once its step has started."""
    while time.time() < deadline:
        for run in instance.get_runs(limit=5):
            if run.run_id in known:
                continue
            steps = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            if steps:
                return run.run_id
        time.sleep(0.05)
    raise AssertionError("the run's step did not start")


def test_killed_runs_block_nothing_and_leave_every_port_whole(hr_project: Path, tmp_path: Path) -> None:
    root, warehouse = hr_project, Warehouse(tmp_path / "warehouse")
    instance = dg.DagsterInstance.get()  # the test's DAGSTER_HOME, as the runs'
    ports = [
        "dim_entity",
        "dim_employee",
        "dim_period",
        "dim_overtime_reason",
        "fact_overtime",
        "fact_overtime_monthly",
        "team_oversight",
        "payroll_compensation",
        "overtime_analysis",
    ]
    versions, durations = {}, []
    for version in ("A", "B"):  # both versions published once, whole
        _set_version(root, version)
        known = {run.run_id for run in instance.get_runs()}
        log = tmp_path / f"run-{version}.log"
        process = _start_run(root, tmp_path, log)
        _wait_for_step(instance, known, time.time() + 120)
        started = time.time()
        _finish(process, log)
        durations.append(time.time() - started)  # from its step's start to the process's end
        versions[version] = _fingerprints(warehouse, ports)
    assert versions["A"] != versions["B"]
    data = tmp_path / "warehouse" / "lake" / "data"

    # Kill points as shares of a whole run, so that they fall inside the run however fast the
    # machine; a run that ended before its kill point tested nothing, and is run again, aimed earlier.
    run_time = min(durations)
    killed = []
    for point, (version, share) in enumerate([("A", 0.05), ("B", 0.35), ("A", 0.7), ("B", "publishing")]):
        _set_version(root, version)
        for attempt in range(4):
            known = {run.run_id for run in instance.get_runs()}
            files = set(data.rglob("*.parquet"))
            log = tmp_path / f"killed-{point}-{attempt}.log"
            process = _start_run(root, tmp_path, log)
            run_id = _wait_for_step(instance, known, time.time() + 120)
            if share == "publishing":  # the new version's files are being written
                deadline = time.time() + 120
                while not set(data.rglob("*.parquet")) - files and process.poll() is None and time.time() < deadline:
                    time.sleep(0.01)
            else:
                time.sleep(share * run_time / 2**attempt)
            if process.poll() is not None:
                _finish(process, log)  # it outran its kill point: a whole run, then try again
                continue
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            if instance.get_run_by_id(run_id).status != dg.DagsterRunStatus.SUCCESS:
                break
            # killed while its process was closing down after the run: it outran its kill point too
        else:
            raise AssertionError(f"every run of kill point {point} ended before it could be killed")
        killed.append(run_id)

        # every port reads one whole version, and the compute database opens
        assert _fingerprints(warehouse, ports) in (versions["A"], versions["B"])
        with duckdb.connect(str(warehouse.database("hr"))) as con:
            assert con.execute('SELECT count(*) FROM "overtime"."overtime_records"').fetchone()[0] > 0

        if point == 0:  # with a daemon, the platform's sensor reaps the dead run
            sensor = build_dead_run_sensor()
            result = sensor(dg.build_sensor_context(instance=instance))
            assert run_id in str(result.skip_message)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            assert instance.event_log_storage.get_concurrency_info("duckdb_hr").claimed_slots == []

        # without a hand: the next run reaps the dead one itself, if it must, and publishes
        log = tmp_path / f"after-{point}.log"
        _finish(_start_run(root, tmp_path, log), log)
        assert _fingerprints(warehouse, ports) == versions[version]

    for run_id in killed:  # every killed run ends up marked failed, and knew its process
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.FAILURE, run_id
        assert run.tags[WORKER_TAG].startswith(this_worker().rsplit("|", 2)[0]), run.tags
    with duckdb.connect(str(warehouse.database("hr"))) as con:  # no dead run's staging is left behind
        assert (
            con.execute("SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, '_staging_')").fetchone()[0]
            == 0
        )
    with warehouse.lake.connect(read_only=False) as con:  # nor a killed publication's files
        assert warehouse.lake.expire(con, keep=timedelta(days=30), orphans_after=timedelta(0))["orphans_deleted"] == 0


def _gone_worker() -> str:
    """A worker tag of a process of this machine that ran and is gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    host, boot, namespace, *_ = this_worker().split("|")
    return f"{host}|{boot}|{namespace}|{gone.pid}|1"


def _started_run(instance: dg.DagsterInstance, worker_tag: str) -> str:
    """A run marked started, executed by the process the tag names."""
    job = dg.define_asset_job("probe").resolve(
        asset_graph=dg.Definitions(assets=[dg.AssetSpec("probe")]).resolve_asset_graph()
    )
    run = instance.create_run_for_job(job_def=job, tags={WORKER_TAG: worker_tag})
    instance.handle_run_event(run.run_id, dg.DagsterEvent(event_type_value="PIPELINE_START", job_name="probe"))
    return run.run_id


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_that_ended_holding_a_slot_gives_it_back(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's code server marks a run failed when its process dies, but leaves its pool slot
    claimed; the platform's sensor frees it, as the next run waiting for it would."""
    with project_instance(backend, tmp_path, monkeypatch), dg.DagsterInstance.get() as instance:

        @dg.asset
        def probe() -> None:
            return None

        run_id = dg.materialize([probe], instance=instance).run_id
        instance.add_run_tags(run_id, {WORKER_TAG: _gone_worker()})
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_probe", 1)
        assert storage.claim_concurrency_slot("duckdb_probe", run_id, "probe").is_claimed  # as if it died holding it
        result = build_dead_run_sensor()(dg.build_sensor_context(instance=instance))
        assert run_id in str(result.skip_message)
        assert storage.get_concurrency_info("duckdb_probe").claimed_slots == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_waiting_for_a_dead_runs_slot_reaps_it_without_the_daemon(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with project_instance(backend, tmp_path, monkeypatch), dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_probe", 1)
        dead = _started_run(instance, _gone_worker())
        assert storage.claim_concurrency_slot("duckdb_probe", dead, "probe").is_claimed  # then it was killed
        alive = _started_run(instance, this_worker())
        assert storage.claim_concurrency_slot("duckdb_probe", alive, "probe").is_claimed
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        # the control: a live holder keeps its slot, however long another run waits
        waiting = _started_run(instance, this_worker())
        for _ in range(2):
            assert not storage.claim_concurrency_slot("duckdb_probe", waiting, "probe").is_claimed
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_live_run_is_never_taken_for_dead(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its process runs; or runs elsewhere (another host, another container): it is left alone."""
    with project_instance(backend, tmp_path, monkeypatch), dg.DagsterInstance.get() as instance:
        host, boot, namespace, _pid, ticks = this_worker().split("|")
        cases = {
            "this very process": this_worker(),
            "a process on another machine": f"elsewhere|{boot}|{namespace}|999999|1",
            "a process in another container": f"{host}|{boot}|pid:[1]|999999|1",
            "a process that is gone (the control)": _gone_worker().rsplit("|", 1)[0] + f"|{ticks}",
        }
        runs = {case: _started_run(instance, worker_tag) for case, worker_tag in cases.items()}
        build_dead_run_sensor()(dg.build_sensor_context(instance=instance))
        status = {case: instance.get_run_by_id(run_id).status for case, run_id in runs.items()}
        assert status == {
            case: dg.DagsterRunStatus.FAILURE if "control" in case else dg.DagsterRunStatus.STARTED for case in cases
        }
