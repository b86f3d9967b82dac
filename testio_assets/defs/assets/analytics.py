"""The analytics assets: per-product tables in DuckDB's `analytics` schema, kept current by
the product step that changed their data, and by declarative automation for the rest.

One multi-asset computes any subset of the four tables for one or many product
partitions at once (set-based SQL over the raw tables, `store/analytics.py`). The product
step rebuilds the analytics of the products it changed itself, at its end
(`outdated_analytics.py`): the refresh schedule, the stale-features sensor, a new
product's first run and `testio-assets sync` leave them current without another run.
Each table also follows its upstream partitions with `AutomationCondition.eager()`, held
back while a blocking check of an upstream partition fails; `analytics_automation_sensor`
evaluates those conditions (the daemon runs it) and rebuilds what a step left behind (one
run with analytics off, or a step that failed before its end).
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

from testio_assets.defs.assets.analytics_rebuild import rebuild
from testio_assets.defs.assets.analytics_text import DESCRIPTIONS
from testio_assets.defs.assets.metadata import OWNERS
from testio_assets.defs.automation.orphan_runs import record_process
from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_GROUP,
    ANALYTICS_IN_STEP_TAG,
    ANALYTICS_UPSTREAM,
    DUCKDB_POOL,
)
from testio_assets.store.analytics import HealthThresholds
from testio_assets.store.database import DuckDBStore


def follows_upstream() -> AutomationCondition:
    """Rebuild a partition when an upstream partition of it updates (or it is missing),
    unless an upstream blocking check of that partition failed, or the update came from a
    run whose product step rebuilds the analytics itself (`ANALYTICS_IN_STEP_TAG`).

    That step rebuilds them at its end: a product whose data was recorded early in a long
    run is no longer "in progress" for Dagster, so plain `eager()` requested its analytics
    in the meantime (the soak saw it). A step killed before its end leaves them to the
    next product step over the same products (it rebuilds what is behind its data).
    `executed_with_tags` is a method of the public `AutomationCondition`, not marked
    `@public` in 1.13, like `executed_with_root_target`, which `eager()` itself uses.
    """
    updated_elsewhere = AutomationCondition.any_deps_match(
        (
            AutomationCondition.newly_updated()
            & ~AutomationCondition.executed_with_root_target()
            & ~AutomationCondition.executed_with_tags(tag_keys={ANALYTICS_IN_STEP_TAG})
        )
        | AutomationCondition.will_be_requested()
    ).with_label("any_deps_updated")
    return (
        AutomationCondition.eager().replace("any_deps_updated", updated_elsewhere)
        & AutomationCondition.all_deps_blocking_checks_passed()
    )


def _spec(name: str) -> AssetSpec:
    return AssetSpec(
        name,
        deps=list(ANALYTICS_UPSTREAM[name]),
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
        summary = yield from rebuild(store, health, dict.fromkeys(tables, product_ids))
        context.log.info("analytics rebuilt: %s", "; ".join(summary))

    return analytics


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
