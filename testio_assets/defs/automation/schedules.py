"""The schedule that refreshes tests and bugs (and what derives from them)."""

from __future__ import annotations

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from testio_assets.checks.definitions import checks_of
from testio_assets.defs.automation.partitions import product_partitions, range_tags
from testio_assets.defs.launch_tags import launch_tags
from testio_assets.names import BUGS, PRODUCTS, TESTS, USERS, analytics_of

DATA = (TESTS, BUGS, USERS)
REFRESHED = [AssetKey(name) for name in (PRODUCTS, *DATA, *analytics_of(list(DATA)))]
# The catalogue's checks are planned; the per-product ones are evaluated by the step and
# recorded as it decides (testio_assets/defs/assets/check_events.py).
PLANNED_CHECKS = [AssetCheckKey(AssetKey(PRODUCTS), check.name) for check in checks_of(PRODUCTS)]
CHANGES_ONLY = {"ops": {"product_data": {"config": {"changes_only": True}}}}


def refresh_request(partition_keys: list[str], run_key: str, digest: str = "") -> RunRequest:
    """One run: the catalogue, then tests, bugs and users over every product partition,
    recording only what changed (or is due a record)."""
    tags = launch_tags("refresh_tests_and_bugs", digest)
    if not partition_keys:
        return RunRequest(run_key=run_key, asset_selection=[AssetKey(PRODUCTS)], tags=tags)
    return RunRequest(
        run_key=run_key,
        asset_selection=REFRESHED,
        asset_check_keys=PLANNED_CHECKS,
        run_config=CHANGES_ONLY,
        tags={**tags, **range_tags(partition_keys[0], partition_keys[-1])},
    )


def build_refresh_schedule(cron: str = "*/15 * * * *", digest: str = "") -> ScheduleDefinition:
    @schedule(
        name="refresh_tests_and_bugs",
        cron_schedule=cron,
        target=AssetSelection.assets(*REFRESHED),
        default_status=DefaultScheduleStatus.RUNNING,
        description=(
            "Refreshes `products`, then `tests`, `bugs` and `users` for every active product in "
            "one multi-partition run, with the analytics of what changed. Only tests that can "
            "still change are re-read; final tests cost nothing. A product is recorded when it "
            "changed, a check of it did not pass, or its last record is older than "
            "TESTIO_RECORD_EVERY_HOURS; the others are checked, not recorded again. "
            f"Cron: `{cron}` (TESTIO_REFRESH_CRON)."
        ),
    )
    def refresh_tests_and_bugs(context: ScheduleEvaluationContext) -> RunRequest:
        keys = context.instance.get_dynamic_partitions(product_partitions.name)
        return refresh_request(keys, f"refresh:{context.scheduled_execution_time}", digest)

    return refresh_tests_and_bugs
