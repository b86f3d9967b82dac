"""Which `features` partitions are stale: the per-partition truth behind the freshness policy.

Dagster judges a `FreshnessPolicy` per asset, so one fresh product would make the whole
asset look fresh. This module decides per product partition, from the instance's
materialization records read in bulk (two queries, whatever the number of partitions):

1. the latest `features` materialization storage id of every partition;
2. the first materialization after `now - ttl` (ascending, limit 1): its storage id is
   the freshness cut. Storage ids grow with time, so a partition whose latest
   materialization id is at or above the cut was synced within the TTL.

`now` is a parameter so tests can move time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from testio_assets import names
from testio_assets.defs.automation.partition_records import freshness_cut, latest_storage_ids
from testio_assets.defs.automation.partitions import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

FEATURES = AssetKey(names.FEATURES)
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@dataclass
class StaleFeatures:
    """One tick's decision. Partition lists are ordered oldest first (never synced first)."""

    stale: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    fresh: int = 0

    def summary(self) -> str:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:20]) + (f" and {len(keys) - 20} more" if len(keys) > 20 else "")

        parts = [
            f"{len(self.stale)} stale",
            f"{len(self.requested)} requested",
            f"{self.fresh} fresh (skipped)",
        ]
        if self.in_flight:
            parts.append(f"{len(self.in_flight)} already running (skipped)")
        if self.deferred:
            parts.append(f"{len(self.deferred)} over the per-tick cap (next tick)")
        text = "features: " + ", ".join(parts)
        if self.requested:
            text += f"; requested: {show(self.requested)}"
        if self.in_flight:
            text += f"; running: {show(self.in_flight)}"
        return text


def partitions_in_flight(
    instance: DagsterInstance, ordered_keys: Sequence[str], asset_key: AssetKey = FEATURES
) -> set[str]:
    """Partitions of `asset_key` that a queued or running run already targets."""
    position = {key: index for index, key in enumerate(ordered_keys)}
    busy: set[str] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT), limit=1000):
        if run.asset_selection is not None and asset_key not in run.asset_selection:
            continue
        tags = run.tags
        if PARTITION_TAG in tags:
            busy.add(tags[PARTITION_TAG])
        start, end = (
            tags.get(RANGE_START_TAG),
            tags.get(RANGE_END_TAG),
        )
        if start in position and end in position:
            busy.update(ordered_keys[position[start] : position[end] + 1])
    return busy


def partitions_named_by_runs(instance: DagsterInstance) -> set[str]:
    """Partitions that a queued or running run names: its partition, or an end of its
    range. Dagster fails such a run if the partition is deleted before it executes (a key
    inside a range is only left out)."""
    named: set[str] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT), limit=1000):
        tags = run.tags
        named.update(
            tags[tag] for tag in (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG) if tag in tags
        )
    return named


def stale_feature_partitions(
    instance: DagsterInstance,
    partition_keys: Sequence[str],
    ttl: timedelta,
    now: datetime,
    max_partitions: int,
    asset_key: AssetKey = FEATURES,
) -> StaleFeatures:
    """Decide which partitions to refresh now (at most `max_partitions`, oldest first)."""
    latest = latest_storage_ids(instance, asset_key)
    cut = freshness_cut(instance, asset_key, now - ttl)
    decision = StaleFeatures()
    stale: list[tuple[int, int, str]] = []
    for index, key in enumerate(partition_keys):
        storage_id = latest.get(key)
        if storage_id is not None and cut is not None and storage_id >= cut:
            decision.fresh += 1
        else:
            # Never-synced first (-1), then by age; ties keep the partition order.
            stale.append((storage_id if storage_id is not None else -1, index, key))
    stale.sort()
    decision.stale = [key for _, _, key in stale]
    busy = partitions_in_flight(instance, partition_keys, asset_key) if stale else set()
    candidates = [key for key in decision.stale if key not in busy]
    decision.in_flight = [key for key in decision.stale if key in busy]
    decision.requested = candidates[:max_partitions]
    decision.deferred = candidates[max_partitions:]
    return decision
