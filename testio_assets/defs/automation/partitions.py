"""The dynamic partitions (one per Test IO product id) and how runs address them."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterInstance, DynamicPartitionsDefinition

# The run tags by which Dagster addresses partitions (documented run tags; Dagster exports
# no public constant for them, and `tests/test_stale_features_sensor.py` checks these
# against Dagster's own).
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

product_partitions = DynamicPartitionsDefinition(name="products")


def partition_changes(
    existing: Sequence[str], active: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(to add, to remove) so that the partitions equal the active products."""
    present = set(existing)
    wanted = list(dict.fromkeys(active))
    return [k for k in wanted if k not in present], sorted(present - set(wanted))


def sync_partitions(
    instance: DagsterInstance, active: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Make the `products` partitions equal to `active` now; returns (added, removed).

    Removing a partition keeps its materialization history in the instance.
    """
    added, removed = partition_changes(
        instance.get_dynamic_partitions(product_partitions.name), active
    )
    if added:
        instance.add_dynamic_partitions(product_partitions.name, added)
    for key in removed:
        instance.delete_dynamic_partition(product_partitions.name, key)
    return added, removed


def contiguous_ranges(ordered: Sequence[str], chosen: set[str]) -> list[tuple[str, str]]:
    """Split `chosen` keys into (first, last) runs that are contiguous in `ordered`."""
    ranges: list[tuple[str, str]] = []
    start: str | None = None
    previous: str | None = None
    for key in ordered:
        if key in chosen:
            start = start or key
            previous = key
        elif start is not None and previous is not None:
            ranges.append((start, previous))
            start = None
    if start is not None and previous is not None:
        ranges.append((start, previous))
    return ranges


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags for one run over the contiguous partitions `first`..`last`."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}
