"""The analytics assets: per-product tables in DuckDB's `analytics` schema, kept current by
declarative automation.

One multi-asset computes any subset of the four tables for one or many product
partitions at once (set-based SQL over the raw tables, `store/analytics.py`). Each
table follows its upstream partitions with `AutomationCondition.eager()`, held back while
a blocking check of an upstream partition fails; `analytics_automation_sensor`
evaluates those conditions (the daemon runs it), and `testio-assets sync` materializes
the analytics of what it synced itself.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    BackfillPolicy,
    DefaultSensorStatus,
    multi_asset,
)

from testio_assets.assets.analytics_preview import metadata_by_product
from testio_assets.assets.analytics_text import DESCRIPTIONS
from testio_assets.assets.metadata import OWNERS
from testio_assets.automation.orphan_runs import record_process
from testio_assets.automation.partitions import product_partitions
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_GROUP,
    BUGS,
    DUCKDB_POOL,
    FEATURE_QUALITY,
    FEATURES,
    PRODUCT_QUALITY_SUMMARY,
    QUALITY_BY_MONTH,
    TESTER_ACTIVITY,
    TESTS,
    USERS,
)
from testio_assets.store.analytics import HealthThresholds, refresh, rows_of
from testio_assets.store.database import DuckDBStore

UPSTREAM = {
    FEATURE_QUALITY: [FEATURES, TESTS, BUGS],
    TESTER_ACTIVITY: [USERS, BUGS],
    QUALITY_BY_MONTH: [TESTS, BUGS],
    PRODUCT_QUALITY_SUMMARY: [TESTS, BUGS, FEATURES],
}


def follows_upstream() -> AutomationCondition:
    """Rebuild a partition when an upstream partition of it updates (or it is missing),
    unless an upstream blocking check of that partition failed."""
    return AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed()


def _spec(name: str) -> AssetSpec:
    return AssetSpec(
        name,
        deps=UPSTREAM[name],
        description=DESCRIPTIONS[name],
        group_name=ANALYTICS_GROUP,
        owners=OWNERS,
        kinds={"duckdb"},
        skippable=True,
        partitions_def=product_partitions,
        automation_condition=follows_upstream(),
        metadata={"dagster/table_name": f"analytics.{name}"},
    )


def build_analytics_asset(health: HealthThresholds) -> AssetsDefinition:
    """The multi-asset, with the health thresholds taken from the settings."""

    @multi_asset(
        name="analytics",
        specs=[_spec(name) for name in ANALYTICS],
        partitions_def=product_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=DUCKDB_POOL,
        description="Rebuilds the analytics tables of one or many products at once.",
    )
    def analytics(
        context: AssetExecutionContext, store: DuckDBStore
    ) -> Iterator[AssetMaterialization]:
        record_process(context.instance, context.run_id)
        product_ids = [int(key) for key in context.partition_keys]
        tables = [name for name in ANALYTICS if AssetKey(name) in context.selected_asset_keys]
        summary = []
        for table in tables:
            counts = store.write(refresh, table, product_ids, health)
            metadata = metadata_by_product(table, store.read(rows_of, table, product_ids), counts)
            for pid in product_ids:
                yield AssetMaterialization(
                    asset_key=table, partition=str(pid), metadata=metadata[pid]
                )
            changed = [sum(getattr(c, k) for c in counts.values()) for k in _KINDS]
            summary.append(
                f"{table}: " + ", ".join(f"{n} {k}" for n, k in zip(changed, _KINDS, strict=True))
            )
        context.log.info("analytics for %d product(s): %s", len(product_ids), "; ".join(summary))

    return analytics


_KINDS = ("created", "updated", "removed")


def build_analytics_sensor() -> AutomationConditionSensorDefinition:
    """Evaluates the analytics assets' automation conditions every 30 s (running by
    default, so a fresh `dagster dev` keeps analytics current without a click)."""
    return AutomationConditionSensorDefinition(
        "analytics_automation_sensor",
        target=AssetSelection.groups(ANALYTICS_GROUP),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Rebuilds a product's analytics after its tests, bugs, features or users "
        "change (each analytics asset's automation condition says when).",
    )
