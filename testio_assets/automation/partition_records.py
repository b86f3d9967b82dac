"""The latest materialization of every partition of an asset, as storage ids, in one query.

Dagster has no public method for this: `DagsterInstance.get_latest_storage_id_by_partition`
(added for Dagster's own automation in dagster-io/dagster#14825) is not marked public. The
public alternatives, `fetch_materializations` per partition or over the whole asset, read
and deserialize every event record: far too slow for a sensor tick over thousands of
partitions, which this one query serves in milliseconds. This module is the one place that
calls it, so a Dagster upgrade that changes it breaks here, and the sensor's tests say so.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetKey, DagsterEventType, DagsterInstance


def latest_storage_ids(instance: DagsterInstance, asset_key: AssetKey) -> Mapping[str, int]:
    """Partition key -> storage id of its latest materialization (never-materialized
    partitions are absent)."""
    return instance.get_latest_storage_id_by_partition(
        asset_key, DagsterEventType.ASSET_MATERIALIZATION
    )
