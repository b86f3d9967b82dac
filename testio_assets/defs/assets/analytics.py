"""The analytics assets: tables in DuckDB's `analytics` schema, owned by the product step.

They are specs of the `product_data` multi-asset, so the step that syncs a product's data
rebuilds its analytics in the same run (`analytics_step.py`), however scattered the
changed products are. A run that updates `tests` and plans the analytics too is one
Dagster's automation leaves alone (`AutomationCondition.any_deps_updated` ignores parent
updates from a run that also plans the child); a run that did not plan them (`tests`
materialized alone from the UI, `sync --no-analytics`) wakes `analytics_automation_sensor`,
which requests the analytics on their own.

`product_quality_summary` has one row per product and is partitioned like the data, so
Dagster plots each product's rates and health over time. The other tables span products;
partitioning them would store one more event per product and table at every change, so
each is recorded once per run, naming the products it rebuilt.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

from testio_assets.defs.assets.analytics_text import DESCRIPTIONS
from testio_assets.defs.assets.metadata import OWNERS
from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.defs.launch_tags import launch_tags
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_GROUP,
    ANALYTICS_UPSTREAM,
    PARTITIONED_ANALYTICS,
)
from testio_assets.store.analytics_sql import SCHEMA


def follows_upstream() -> AutomationCondition:
    """`eager()` without its wait for missing upstream partitions: a table spanning every
    product would otherwise wait for good on one product whose `tests` never materialize
    (a product the token may not read). A product held back by a failing blocking check is
    left out by the step itself (`analytics_step.py`)."""
    return (
        (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated())
        .since_last_handled()
        .with_label("missing_or_any_deps_updated")
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("follows_upstream")


def analytics_specs() -> list[AssetSpec]:
    """One spec per analytics table, for the product step."""
    return [
        AssetSpec(
            name,
            deps=list(ANALYTICS_UPSTREAM[name]),
            description=DESCRIPTIONS[name],
            group_name=ANALYTICS_GROUP,
            owners=OWNERS,
            kinds={"duckdb"},
            skippable=True,
            partitions_def=product_partitions if name in PARTITIONED_ANALYTICS else None,
            automation_condition=follows_upstream(),
            metadata={"dagster/table_name": f"{SCHEMA}.{name}"},
        )
        for name in ANALYTICS
    ]


def build_analytics_sensor(digest: str = "") -> AutomationConditionSensorDefinition:
    """Evaluates the analytics assets' automation conditions every 30 s (running by
    default, so a fresh `dg dev` keeps analytics current without a click)."""
    return AutomationConditionSensorDefinition(
        "analytics_automation_sensor",
        target=AssetSelection.groups(ANALYTICS_GROUP),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        run_tags=launch_tags("analytics_automation_sensor", digest),
        description="Rebuilds the analytics after a run that changed their data without "
        "planning them (each analytics asset's automation condition says when).",
    )
