"""Run history retention: finished runs older than `TESTIO_RUN_HISTORY_DAYS` are deleted.

Dagster keeps every run's events forever, and this pipeline makes many runs: for 225
products the default schedule and sensors store about 160,000 events a day (770 MiB of
SQLite files, refreshes recording only what changed; docs/benchmarks.md).
`run_history_sensor` deletes, every hour, the finished runs last updated before the
retention window, oldest first, at most `BATCH` per tick (`DagsterInstance.delete_run`:
the run and its events, materializations included). Runs in flight are never touched.
Refreshes record every tests, bugs and users partition at least once per half this window
(assets/recording.py). A partition not materialized within the window loses its history
with its last run and counts as never synced: the stale-features sensor requests its
features again, and the UI shows it unmaterialized until the next refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
BATCH = 500  # runs deleted per tick: a day's runs take one or two ticks


def purge_old_runs(
    instance: DagsterInstance, keep: timedelta, now: datetime, limit: int = BATCH
) -> list[str]:
    """Delete up to `limit` finished runs last updated before `now - keep`, oldest first;
    returns their ids."""
    records = instance.get_run_records(
        RunsFilter(statuses=FINISHED, updated_before=now - keep), limit=limit, ascending=True
    )
    for record in records:
        instance.delete_run(record.dagster_run.run_id)
    return [record.dagster_run.run_id for record in records]


def build_run_history_sensor(days: int, interval_seconds: int = 3600) -> SensorDefinition:
    """The retention sensor; `days` 0 keeps every run (the sensor then only says so)."""

    @sensor(
        name="run_history_sensor",
        description=(
            f"Deletes finished runs (and their events) older than {days} day(s), "
            "TESTIO_RUN_HISTORY_DAYS; 0 keeps them all."
        ),
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def run_history_sensor(context: SensorEvaluationContext) -> SkipReason:
        if days == 0:
            return SkipReason("TESTIO_RUN_HISTORY_DAYS=0: every run is kept")
        deleted = purge_old_runs(context.instance, timedelta(days=days), datetime.now(UTC))
        if deleted:
            context.log.info("deleted %d run(s) older than %d day(s)", len(deleted), days)
        return SkipReason(f"deleted {len(deleted)} run(s) finished more than {days} day(s) ago")

    return run_history_sensor
