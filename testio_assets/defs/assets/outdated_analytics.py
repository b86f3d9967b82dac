"""Which products' analytics are behind their data: what the product step rebuilds at
its end (`product_data.py`, `ProductDataConfig.analytics`).

A refresh records only the products whose data changed (`recording.py`), so the products
whose analytics must follow are scattered through the account. Left to the automation
sensor, they became one run per contiguous range of partitions (Dagster's runs address a
range): a 30-minute soak made 132 analytics runs, 126 of them backfill pieces of a few
products each (docs/reliability.md). So the step that wrote the data rebuilds, per
analytics table computed from its assets, the partitions of its run where

- the table was never built for the product, or
- an upstream partition of it (`ANALYTICS_UPSTREAM`) was materialized after the table's
  latest materialization of that product,

except while the latest evaluation of a blocking check of an upstream partition did not
pass (what `AutomationCondition.all_deps_blocking_checks_passed` holds back too). The
step's own records are in the event log by then: Dagster stores a step's events as it
yields them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import AssetCheckKey, AssetKey, DagsterInstance

from testio_assets.checks.definitions import checks_of
from testio_assets.defs.automation.partition_records import (
    latest_storage_ids,
    unsettled_check_partitions,
)
from testio_assets.names import ANALYTICS_UPSTREAM


def outdated_partitions(
    instance: DagsterInstance, tables: Sequence[str], partitions: Sequence[str]
) -> dict[str, list[str]]:
    """Per analytics table, those of `partitions` (in their order) to rebuild."""
    latest: dict[str, Mapping[str, int]] = {}
    unsettled: dict[str, set[str]] = {}  # tables share upstream assets: one query each

    def ids(asset: str) -> Mapping[str, int]:
        if asset not in latest:
            latest[asset] = latest_storage_ids(instance, AssetKey(asset))
        return latest[asset]

    def held_by(asset: str) -> set[str]:
        if asset not in unsettled:
            unsettled[asset] = unsettled_check_partitions(instance, blocking_checks([asset]))
        return unsettled[asset]

    result = {}
    for table in tables:
        upstream = ANALYTICS_UPSTREAM[table]
        held = set().union(*(held_by(dep) for dep in upstream))
        built = ids(table)
        result[table] = [
            key
            for key in partitions
            if key not in held
            and (key not in built or any(ids(dep).get(key, -1) > built[key] for dep in upstream))
        ]
    return result


def blocking_checks(assets: Sequence[str]) -> list[AssetCheckKey]:
    """The blocking checks of `assets`."""
    return [
        AssetCheckKey(AssetKey(asset), check.name)
        for asset in assets
        for check in checks_of(asset)
        if check.blocking
    ]
