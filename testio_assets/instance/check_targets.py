"""Which materialization a check evaluation judges, in the form Dagster records it.

Dagster counts a partition's check result as current (for the UI's check status and for
`AutomationCondition.all_deps_blocking_checks_passed`, which holds the analytics back)
only when the evaluation names the partition's latest materialization. `AssetCheckResult`
fills that in itself, but only in a step of a single partition; the product step covers
many partitions and yields `AssetCheckEvaluation`s, and the type of their target,
`AssetCheckEvaluationTargetMaterializationData`, is not exported by Dagster. So this
module holds that one private import. It becomes unnecessary with
dagster-io/dagster#31230 (an evaluation made after the latest materialization counts as
current) or a public export of the type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as CheckTarget,
)

__all__ = ["CheckTarget", "latest_materialization", "latest_materializations"]

Wanted = tuple[str, str]  # (asset, partition)


def latest_materialization(
    instance: DagsterInstance, asset: str, partition: str
) -> CheckTarget | None:
    """The partition's latest materialization, or None if it was never materialized."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return _target(records[0]) if records else None


def latest_materializations(
    instance: DagsterInstance, wanted: Sequence[Wanted]
) -> dict[Wanted, CheckTarget | None]:
    """The latest materialization of each (asset, partition), in one query per asset.

    The newest `n` materializations among the `n` partitions hold the latest of every
    partition materialized since the others' latest (those just materialized by this
    run); the few left out (checked without being materialized) are asked one by one.
    """
    by_asset: dict[str, list[str]] = defaultdict(list)
    for asset, partition in wanted:
        by_asset[asset].append(partition)
    found: dict[Wanted, CheckTarget | None] = {}
    for asset, partitions in by_asset.items():
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=partitions),
            limit=len(partitions),
        ).records
        for record in records:  # newest first: the first of a partition is its latest
            found.setdefault((asset, str(record.partition_key)), _target(record))
    for asset, partition in wanted:
        if (asset, partition) not in found:
            found[(asset, partition)] = latest_materialization(instance, asset, partition)
    return found


def _target(record: EventLogRecord) -> CheckTarget:
    return CheckTarget(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )
