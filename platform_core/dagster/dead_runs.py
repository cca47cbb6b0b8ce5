"""Runs whose process died: found, marked failed, and their pool slots freed.

A run killed mid-step (SIGKILL, a crash, a machine going down) never reports its end, so it
stays "started" and keeps its slot in its domain's `duckdb_<domain>` pool; every later run
of that domain would wait for the slot forever. Dagster's run monitoring cannot see this
for runs its default launcher started, nor for runs started from the command line, so the
platform looks itself: every run says, in an engine event, which process executes its
steps; a run whose process is gone is dead.

Two places look: the platform's `platform__dead_runs` sensor, every 30 seconds while the
daemon runs, and a run that waits for a pool slot (platform_core.dagster.instance_storage),
so that without a daemon too the next run of the domain proceeds. Process ids are only
meaningful on one machine: this is for the local instance.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

SLACK_SECONDS = 2.0  # clock ticks and event timestamps are not taken at the same instant


def worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The process that executes the run's steps, and when it said so; None before it started."""
    found = None
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None:
            found = (int(pid.value), record.timestamp)
    return found


def process_alive(pid: int, since: float) -> bool:
    """Whether process `pid` runs, and is the one that started before `since` (not a later one
    that reuses its id). Where /proc is missing, only whether the id is in use."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    if fields[0] == "Z":  # exited, waiting for its parent to collect it
        return False
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= since + SLACK_SECONDS


def is_dead(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    if run.status != dg.DagsterRunStatus.STARTED:
        return False
    found = worker(instance, run.run_id)
    return found is not None and not process_alive(*found)


def reap(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Mark a dead run failed and free its pool slots, so the runs waiting for them proceed."""
    pid, _ = worker(instance, run.run_id) or (None, None)
    instance.report_run_failed(run, f"The process running this run (pid {pid}) is gone: it was killed or crashed. "
                                    "Marked failed; its pool slots are freed for the next run.")
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def reap_dead_runs(instance: dg.DagsterInstance, run_ids: list[str] | None = None) -> list[str]:
    """Reap every dead run among `run_ids` (default: every started run); their ids.

    Runs among `run_ids` that have ended (marked failed from outside, for one, when their
    process died under Dagster's code server) but still hold slots get them freed too."""
    if run_ids is not None and not run_ids:
        return []
    filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], run_ids=run_ids)
    reaped = []
    for run in instance.get_runs(filters=filters):
        if is_dead(instance, run):
            reap(instance, run)
            reaped.append(run.run_id)
    if run_ids:
        ended = dg.RunsFilter(run_ids=run_ids, statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS,
                                                         dg.DagsterRunStatus.CANCELED])
        for run in instance.get_runs(filters=ended):
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reaped.append(run.run_id)
    return reaped


def slot_holders(instance: dg.DagsterInstance) -> set[str]:
    """Every run that holds a slot in some pool."""
    storage = instance.event_log_storage
    return {slot.run_id for key in storage.get_concurrency_keys()
            for slot in storage.get_concurrency_info(key).claimed_slots}


def build_dead_run_sensor() -> dg.SensorDefinition:
    @dg.sensor(name="platform__dead_runs", minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Marks failed the runs whose process died (killed, crashed) and frees their pool slots, "
                           "so that their domain's next run does not wait forever.")
    def dead_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from platform_core.dagster.instance_storage import PoolSafeSqliteEventLogStorage

        if not isinstance(context.instance.event_log_storage, PoolSafeSqliteEventLogStorage):
            return dg.SkipReason("not a local instance: process ids say nothing about runs on other machines")
        started = time.monotonic()
        reaped = reap_dead_runs(context.instance)
        reaped += reap_dead_runs(context.instance, sorted(slot_holders(context.instance) - set(reaped)))
        context.log.info(f"{len(reaped)} dead run(s) reaped in {time.monotonic() - started:.2f} s")
        return dg.SkipReason(f"reaped dead runs: {', '.join(reaped)}" if reaped else "no dead run")

    return dead_runs
