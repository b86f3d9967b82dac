"""Every definition of the code location, built from the validated settings.

`testio_assets/definitions.py` loads the `defs/` folder the `dg` way; this module's
`@definitions` function is what that finds. Tests and `testio-assets` commands call
`build_definitions` with settings of their own.
"""

from __future__ import annotations

import dagster as dg
from dagster import Definitions, in_process_executor

from testio_assets.defs.assets.analytics import build_analytics_sensor
from testio_assets.defs.assets.product_data import build_product_data_asset
from testio_assets.defs.assets.products import build_products_asset
from testio_assets.defs.assets.recording import record_window
from testio_assets.defs.automation.lake_maintenance import build_lake_maintenance
from testio_assets.defs.automation.orphan_runs import build_orphaned_runs_sensor
from testio_assets.defs.automation.run_history import build_run_history_sensor
from testio_assets.defs.automation.schedules import build_refresh_schedule
from testio_assets.defs.automation.sensors import (
    build_product_discovery_sensor,
    build_stale_features_sensor,
)
from testio_assets.defs.resources import build_resources
from testio_assets.settings import Settings, load_settings, settings_digest
from testio_assets.store.analytics import HealthThresholds


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    digest = settings_digest(settings)
    jobs, schedules = [], [build_refresh_schedule(settings.refresh_cron, digest)]
    if settings.ducklake_catalog:  # the store is a DuckLake: its daily upkeep
        upkeep, daily = build_lake_maintenance()
        jobs.append(upkeep)
        schedules.append(daily)
    return Definitions(
        assets=[
            build_products_asset(digest),
            build_product_data_asset(
                settings.feature_ttl_seconds,
                record_window(settings.run_history_days, settings.record_every_hours),
                health_thresholds(settings),
                event_batches=settings.event_batch_size > 0,
                settings_digest=digest,
            ),
        ],
        sensors=[
            build_stale_features_sensor(
                settings.feature_ttl_seconds, settings.sensor_max_partitions, digest=digest
            ),
            build_product_discovery_sensor(settings.discovery_interval_seconds, digest),
            build_analytics_sensor(digest),
            build_orphaned_runs_sensor(),
            build_run_history_sensor(settings.run_history_days),
        ],
        jobs=jobs,
        schedules=schedules,
        resources=build_resources(settings),
        # A run's steps in the run's own process: they take turns on DuckDB anyway, so a
        # process per step (Dagster's default) buys nothing and costs each daemon-launched
        # run a second interpreter (start-up time, and as much memory again).
        executor=in_process_executor,
    )


def health_thresholds(settings: Settings) -> HealthThresholds:
    return HealthThresholds(
        rejection_warning=settings.health_rejection_warning,
        rejection_critical=settings.health_rejection_critical,
        auto_warning=settings.health_auto_accept_warning,
        auto_critical=settings.health_auto_accept_critical,
        active_warning=settings.health_active_accept_warning,
        active_critical=settings.health_active_accept_critical,
        review_warning=settings.health_review_warning,
        review_critical=settings.health_review_critical,
    )


@dg.definitions
def testio_assets() -> Definitions:
    """The code location's definitions, from the settings of this process."""
    return build_definitions(load_settings())
