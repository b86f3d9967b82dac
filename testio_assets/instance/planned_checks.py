"""Planned check rows that do not repeat the run's partition list (for both event logs).

When a run over many partitions is created, Dagster logs one "check planned" event per
asset check, holding every partition of the run, and stores one row per partition in the
index's `asset_check_executions` table. Each row carries the whole event, serialized once
per row: a run over N partitions serializes and writes N copies of an event listing N
partitions, per check. That grows with the square of the account: at 1,000 products the
nine checks cost 12 s before the run's first step (1.4 s at 225), at 2,000 about 41 s
and 150+ MiB written and freed per run (`docs/benchmarks.md`, "Planned checks"), on
every scheduled refresh.

`store_planned_checks` stores the same rows, each with the planned event without its
partition list, serialized once for all rows: the row's own `partition` column says which
partition it plans, as before. Nothing reads the list back from these rows (the UI shows a
planned check's asset and name); the event in the run's log keeps every partition.

Both event logs of the project's storage use it: the pooled SQLite one as a method,
dagster-postgres's as a method of the class `project_storage.postgres_storage` gives it.
`connections: stock` keeps Dagster's own rows.

Private Dagster names, and why: the table is not exported, and no public hook shapes how a
storage records planned checks. Dagster builds the rows this way since partitioned checks
arrived (dagster-io/dagster#33231); `tests/test_instance_storage.py` fingerprints the
method replaced here, so an upgrade that changes it fails there.
"""

from __future__ import annotations

from typing import Any, cast

from dagster import EventLogEntry
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationPlanned,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._serdes import serialize_value


def without_partitions(event: EventLogEntry) -> EventLogEntry:
    """The planned-check `event` without its list of partitions."""
    dagster_event = event.dagster_event
    assert dagster_event is not None
    planned = cast(AssetCheckEvaluationPlanned, dagster_event.event_specific_data)
    bare = AssetCheckEvaluationPlanned(asset_key=planned.asset_key, check_name=planned.check_name)
    return event._replace(dagster_event=dagster_event._replace(event_specific_data=bare))


def store_planned_checks(storage: Any, event: EventLogEntry, event_id: int | None) -> None:
    """`SqlEventLogStorage._store_asset_check_evaluation_planned`, the lean way: a storage
    class takes it as that method (`PooledSqliteEventLogStorage`, `postgres_storage`)."""
    dagster_event = event.dagster_event
    assert dagster_event is not None
    planned = cast(AssetCheckEvaluationPlanned, dagster_event.event_specific_data)
    if planned.partitions_subset is None:
        SqlEventLogStorage._store_asset_check_evaluation_planned(storage, event, event_id)
        return
    serialized = serialize_value(without_partitions(event))
    timestamp = storage._event_insert_timestamp(event)
    rows = [
        {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "partition": partition,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialized,
            "evaluation_event_timestamp": timestamp,
            "evaluation_event_storage_id": event_id,
        }
        for partition in planned.partitions_subset.get_partition_keys()
    ]
    with storage.index_connection() as conn:
        # One statement run per row (executemany): a multi-row VALUES statement is slow
        # to build at thousands of rows and runs into SQLite's limit on parameters.
        conn.execute(AssetCheckExecutionsTable.insert(), rows)


def has_lean_planned_checks(event_log: object) -> bool:
    """Whether `event_log` stores planned checks with `store_planned_checks`."""
    method = getattr(type(event_log), "_store_asset_check_evaluation_planned", None)
    return method is store_planned_checks
