"""The DuckLake's upkeep, a Dagster job on a schedule (defined only when the store is a
DuckLake): every commit leaves files of its own and a snapshot, so once a day small files
are merged and snapshots older than a day expired with the files only they used."""

# No `from __future__ import annotations`: Dagster inspects the config annotation.

from datetime import timedelta

from dagster import (
    Config,
    DefaultScheduleStatus,
    JobDefinition,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)
from pydantic import Field

from testio_assets.names import DUCKDB_POOL
from testio_assets.store.database import DuckDBStore

CRON = "17 3 * * *"  # daily, at a quiet hour (UTC)


class LakeUpkeep(Config):
    keep_hours: float = Field(
        default=24.0,
        ge=0.0,
        description="Snapshots older than this are expired, and the files only they used "
        "deleted once this old: how long a reader may stay on an old snapshot.",
    )


@op(pool=DUCKDB_POOL, description="Merge the DuckLake's small files; expire old snapshots.")
def maintain_lake(context: OpExecutionContext, config: LakeUpkeep, store: DuckDBStore) -> None:
    before, after = store.maintain_lake(timedelta(hours=config.keep_hours))
    context.log.info(
        "DuckLake: %d -> %d data files (%.1f -> %.1f MiB), %d -> %d snapshots",
        before.files,
        after.files,
        before.bytes / 2**20,
        after.bytes / 2**20,
        before.snapshots,
        after.snapshots,
    )


@job(name="lake_maintenance", description=__doc__)
def lake_maintenance() -> None:
    maintain_lake()


def build_lake_maintenance() -> tuple[JobDefinition, ScheduleDefinition]:
    schedule = ScheduleDefinition(
        name="lake_maintenance_daily",
        job=lake_maintenance,
        cron_schedule=CRON,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Merges the DuckLake's small files and expires snapshots older than a "
        "day, every day at 03:17 UTC.",
    )
    return lake_maintenance, schedule
