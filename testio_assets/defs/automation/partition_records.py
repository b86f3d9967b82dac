"""Per-partition look-ups in the event log that Dagster has no public method for.

`latest_storage_ids`: the latest materialization of every partition of an asset, as
storage ids, in one query.

Dagster has no public method for this: `DagsterInstance.get_latest_storage_id_by_partition`
(added for Dagster's own automation in dagster-io/dagster#14825) is not marked public. The
public alternatives, `fetch_materializations` per partition or over the whole asset, read
and deserialize every event record: far too slow for a sensor tick over thousands of
partitions, which this one query serves in milliseconds. This module is the one place that
calls it, so a Dagster upgrade that changes it breaks here, and the sensor's tests say so.

`unsettled_check_partitions`: the partitions whose latest check execution did not pass,
from the storage's `get_asset_check_partition_info` (what Dagster's own check status per
partition is built from; not on the instance, not marked public). A refresh that records
only changes (`assets/recording.py`) records those partitions again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from dagster import AssetCheckKey, AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance

SUCCEEDED = "SUCCEEDED"  # the value of Dagster's (unexported) check execution status


def latest_storage_ids(instance: DagsterInstance, asset_key: AssetKey) -> Mapping[str, int]:
    """Partition key -> storage id of its latest materialization (never-materialized
    partitions are absent)."""
    return instance.get_latest_storage_id_by_partition(
        asset_key, DagsterEventType.ASSET_MATERIALIZATION
    )


def freshness_cut(instance: DagsterInstance, asset_key: AssetKey, after: datetime) -> int | None:
    """Storage id of the first materialization after `after`, or None if there is none."""
    result = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, after_timestamp=after.timestamp()),
        limit=1,
        ascending=True,
    )
    return result.records[0].storage_id if result.records else None


def unsettled_check_partitions(
    instance: DagsterInstance, keys: Sequence[AssetCheckKey]
) -> set[str]:
    """The partitions whose latest execution of any of the checks `keys` did not pass
    (failed, or planned and never evaluated), from the event log's per-partition index:
    one query per check."""
    infos = instance.event_log_storage.get_asset_check_partition_info(list(keys))
    return {
        str(info.partition_key)
        for info in infos
        if info.partition_key is not None and info.latest_execution_status.value != SUCCEEDED
    }
