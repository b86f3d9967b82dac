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

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as CheckTarget,
)

__all__ = ["CheckTarget", "latest_materialization"]


def latest_materialization(
    instance: DagsterInstance, asset: str, partition: str
) -> CheckTarget | None:
    """The partition's latest materialization, or None if it was never materialized."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    latest = records[0]
    return CheckTarget(
        storage_id=latest.storage_id, run_id=latest.run_id, timestamp=latest.timestamp
    )
