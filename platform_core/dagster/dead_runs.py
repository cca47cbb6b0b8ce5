"""Runs whose process died: found, marked failed, and their pool slots freed.

A run killed mid-step (SIGKILL, a crash, a machine going down) never reports its end, so it
stays "started" and keeps its slot in its domain's `duckdb_<domain>` pool; every later run
of that domain would wait for the slot forever. Dagster's run monitoring cannot see this
for runs its default launcher started, nor for runs started from the command line, so the
platform looks itself. Each product's op tags its run with the process executing it (host,
boot, pid namespace, pid and start time, so that no other process can be taken for it); a
run killed before that is known by the pid in Dagster's engine events. A run whose process
is certainly gone is dead; whatever cannot be told for certain (a process on another
machine, in another container) counts as alive.

Two places look: the platform's `platform__dead_runs` sensor, every 30 seconds while the
daemon runs, and a run that waits for a pool slot (`DeadHoldersReaped`, a part of both of the
platform's event log storages, SQLite and PostgreSQL), so that without a daemon too the next
run of the domain proceeds. A run's tag names its machine, boot and pid namespace, so a run on
another machine sharing a PostgreSQL instance is never judged here; a run killed before its tag
was written is judged by the pid of Dagster's engine event only on a SQLite instance, whose runs
are all on this machine.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import dagster as dg

from platform_core.execution.processes import read_proc, running, start_ticks

# An event log storage that keeps runs of this machine only says so with this attribute (the
# platform's SQLite storage does): only there do process ids tell whether a run is alive.
LOCAL_RUNS = "runs_are_local"
WORKER_TAG = "mesh/worker"  # host|boot id|pid namespace|pid|start time in clock ticks, of the run's process


def this_worker() -> str:
    """This process, named so that no other process, on this machine or another, or after a
    reboot, can be taken for it."""
    return "|".join(
        (
            socket.gethostname(),
            read_proc("/proc/sys/kernel/random/boot_id"),
            _pid_namespace(),
            str(os.getpid()),
            start_ticks(os.getpid()) or "",
        )
    )


def tag_worker(context: dg.AssetExecutionContext) -> None:
    """Record, on the run, the process that executes it (done as a product's op starts)."""
    context.instance.add_run_tags(context.run_id, {WORKER_TAG: this_worker()})


def worker(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process that executes the run's steps, as Dagster's engine events say; None before it started."""
    found = None
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and isinstance(pid.value, str | int):  # Dagster writes it as text
            found = int(pid.value)
    return found


def worker_gone(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the run's process is certainly gone. Whatever cannot be told for certain (a
    process on another machine or in another container) counts as alive."""
    tag = run.tags.get(WORKER_TAG)
    if tag:
        host, boot, namespace, pid, ticks = (tag.split("|") + [""] * 5)[:5]
        if host != socket.gethostname() or namespace != _pid_namespace():
            return False
        if boot and boot != read_proc("/proc/sys/kernel/random/boot_id"):
            return True  # this machine has restarted since
        return not pid.isdigit() or start_ticks(int(pid)) != ticks or not running(int(pid))
    # Killed before its first product started: only the engine event's pid, which names a process
    # of this machine only when the instance's runs all run here.
    if not getattr(instance.event_log_storage, LOCAL_RUNS, False):
        return False
    process = worker(instance, run.run_id)
    return process is not None and not running(process)


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def reap(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Mark a dead run failed and free its pool slots, so the runs waiting for them proceed;
    whether it did. The run is read again first: one that ended meanwhile is left as it ended."""
    current = instance.get_run_by_id(run.run_id)
    if current is None or current.status != dg.DagsterRunStatus.STARTED:
        return False
    instance.report_run_failed(
        current,
        "The process running this run is gone: it was killed or crashed. "
        "Marked failed; its pool slots are freed for the next run.",
    )
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return True


def reap_dead_runs(instance: dg.DagsterInstance, run_ids: list[str] | None = None) -> list[str]:
    """Reap every dead run among `run_ids` (default: every started run); their ids.

    Runs among `run_ids` that have ended (marked failed from outside, for one, when their
    process died under Dagster's code server) but still hold slots get them freed too."""
    if run_ids is not None and not run_ids:
        return []
    filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], run_ids=run_ids)
    reaped = []
    for run in instance.get_runs(filters=filters):
        if worker_gone(instance, run) and reap(instance, run):
            reaped.append(run.run_id)
    if run_ids:
        ended = dg.RunsFilter(
            run_ids=run_ids,
            statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED],
        )
        for run in instance.get_runs(filters=ended):
            if worker_gone(instance, run):  # a run cancelled from outside may still be finishing its step
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
                reaped.append(run.run_id)
    return reaped


class DeadHoldersReaped:
    """Part of an event log storage whose `_claim` claims a slot under its slots lock: a run that
    finds no free slot, while a run holding one is dead, reaps it and claims again, so a killed run
    never blocks its pool, daemon or not."""

    REAP_INTERVAL_SECONDS = 5.0  # a waiting run claims often; it looks for dead holders this seldom

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> Any:
        storage: Any = self
        status = storage._claim(concurrency_key, run_id, step_key, priority)
        instance = self._live_instance()
        if status.is_claimed or instance is None or not self._time_to_look(concurrency_key):
            return status
        holders = {slot.run_id for slot in storage.get_concurrency_info(concurrency_key).claimed_slots} - {run_id}
        if holders and reap_dead_runs(instance, sorted(holders)):
            status = storage._claim(concurrency_key, run_id, step_key, priority)
        return status

    def _live_instance(self) -> dg.DagsterInstance | None:
        """The instance this storage belongs to, while it exists (a storage may outlive it)."""
        storage: Any = self
        try:
            return storage._instance if storage.has_instance else None
        except dg.DagsterInvariantViolationError:
            return None

    def _time_to_look(self, concurrency_key: str) -> bool:
        looked: dict[str, float] = self.__dict__.setdefault("_looked", {})  # pool -> when last looked
        now = time.monotonic()
        if now - looked.get(concurrency_key, float("-inf")) < self.REAP_INTERVAL_SECONDS:
            return False
        looked[concurrency_key] = now
        return True


def slot_holders(instance: dg.DagsterInstance) -> set[str]:
    """Every run that holds a slot in some pool."""
    storage = instance.event_log_storage
    return {
        slot.run_id
        for key in storage.get_concurrency_keys()
        for slot in storage.get_concurrency_info(key).claimed_slots
    }


def build_dead_run_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="platform__dead_runs",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks failed the runs whose process died (killed, crashed) and frees their pool slots, "
        "so that their domain's next run does not wait forever.",
    )
    def dead_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        started = time.monotonic()
        reaped = reap_dead_runs(context.instance)
        reaped += reap_dead_runs(context.instance, sorted(slot_holders(context.instance) - set(reaped)))
        context.log.info(f"{len(reaped)} dead run(s) reaped in {time.monotonic() - started:.2f} s")
        return dg.SkipReason(f"reaped dead runs: {', '.join(reaped)}" if reaped else "no dead run")

    return dead_runs
