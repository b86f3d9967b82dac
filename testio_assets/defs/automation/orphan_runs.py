"""Runs whose process died (SIGKILL, power cut) are marked failed and give back their slot.

Every step that writes DuckDB declares the `duckdb` concurrency pool, and a step holds its
pool slot until it ends. A process killed in the middle never ends its step: the run stays
STARTED and the slot stays claimed, so every later DuckDB step would wait for it forever.
Dagster's run monitoring cannot see this for runs of the default run launcher or for
`testio-assets sync`'s in-process runs (it cannot check their health), so each such step
records where it runs (host and process, with the process's start time so that a reused
pid is not mistaken for it), and `reap_orphaned_runs` (called by `testio-assets sync` and
by the `orphaned_runs_sensor` every 30 s) fails the runs of this host whose process is
gone and frees their slots. Runs on other hosts (containers) are left to Dagster's run
monitoring (docs/deploy.md).
"""

from __future__ import annotations

import multiprocessing
import os
import socket

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

HOST_TAG = "testio/host"
PROCESS_TAG = "testio/process"  # "<pid>:<start time in clock ticks>"
IN_FLIGHT = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _start_ticks(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name (field 2) may contain spaces; the rest follows its ")".
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def run_process_id() -> int:
    """The process that runs the whole run, seen from one of its steps.

    Dagster's multiprocess executor (runs launched by the daemon or the UI) starts each
    step in a child process of the run's worker, through `multiprocessing`: the step's
    process ends with the step while the run goes on to its next step, so it is the
    worker that must be watched (found by the soak: a run between two steps was failed as
    orphaned). In-process execution (`testio-assets sync`) runs steps in the run's own
    process, which has no multiprocessing parent."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getpid()


def this_process() -> dict[str, str]:
    """The tags that name the process running this run."""
    pid = run_process_id()
    return {HOST_TAG: socket.gethostname(), PROCESS_TAG: f"{pid}:{_start_ticks(pid) or ''}"}


def record_process(instance: DagsterInstance, run_id: str) -> None:
    """Tag run `run_id` with the process executing it (called when a DuckDB step starts)."""
    instance.add_run_tags(run_id, this_process())


def _alive(process: str) -> bool:
    pid, _, started = process.partition(":")
    if not pid.isdigit():
        return True  # not ours to judge
    now = _start_ticks(int(pid))
    return now is not None and (not started or now == started)


def reap_orphaned_runs(instance: DagsterInstance) -> list[str]:
    """Fail the in-flight runs of this host whose process is gone, free their pool slots;
    returns their run ids."""
    host = socket.gethostname()
    records = instance.get_run_records(RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: host}))
    reaped = []
    for record in records:
        run = record.dagster_run
        if _alive(run.tags.get(PROCESS_TAG, "")):
            continue
        instance.report_run_failed(
            run,
            f"process {run.tags.get(PROCESS_TAG, '?').split(':')[0]} on {host} ended without "
            "finishing this run (killed?); products it had not finished keep their previous data",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def build_orphaned_runs_sensor(interval_seconds: int = 30) -> SensorDefinition:
    @sensor(
        name="orphaned_runs_sensor",
        description=(
            "Fails runs whose process on this host died (SIGKILL, crash) and frees their "
            "`duckdb` pool slot, so that later runs do not wait for it forever."
        ),
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def orphaned_runs_sensor(context: SensorEvaluationContext) -> SkipReason:
        reaped = reap_orphaned_runs(context.instance)
        if reaped:
            context.log.warning("failed orphaned run(s), slots freed: %s", ", ".join(reaped))
            return SkipReason(f"failed {len(reaped)} orphaned run(s): {', '.join(reaped)}")
        return SkipReason("no orphaned runs")

    return orphaned_runs_sensor
