"""run_history_sensor: finished runs older than the window are deleted, nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, build_sensor_context

from testio_assets.defs.automation.run_history import build_run_history_sensor, purge_old_runs

WEEK = timedelta(days=7)


def add_runs(instance: DagsterInstance, *statuses: DagsterRunStatus) -> list[str]:
    ids = []
    for status in statuses:
        ids.append(str(uuid.uuid4()))
        instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=ids[-1], status=status))
    return ids


def test_finished_runs_older_than_the_window_are_deleted_and_nothing_else(
    project_instance: DagsterInstance,
) -> None:
    instance = project_instance
    done, failed, running = add_runs(
        instance, DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.STARTED
    )
    now = datetime.now(UTC)
    assert purge_old_runs(instance, WEEK, now) == []  # all of them are recent
    eight_days_on = now + timedelta(days=8)
    assert sorted(purge_old_runs(instance, WEEK, eight_days_on, limit=1)) in ([done], [failed])
    assert len(purge_old_runs(instance, WEEK, eight_days_on)) == 1  # the other one
    assert instance.get_run_by_id(done) is None and instance.get_run_by_id(failed) is None
    assert instance.get_run_by_id(running) is not None  # in flight: never touched


def test_zero_days_keeps_every_run(project_instance: DagsterInstance) -> None:
    (run_id,) = add_runs(project_instance, DagsterRunStatus.SUCCESS)
    sensor = build_run_history_sensor(0)
    result = sensor(build_sensor_context(instance=project_instance))
    assert "every run is kept" in str(result.skip_message)
    assert project_instance.get_run_by_id(run_id) is not None
