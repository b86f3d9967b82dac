"""`product_data`: the step that owns every per-product asset and the analytics.

`tests`, `bugs`, `features` and `users` are one multi-asset so that a run over many
product partitions works on all of them at once (the engine is `sync/engine.py`); the
analytics tables are specs of it too, so the step that changed a product's data rebuilds
its analytics in the same run (`analytics_step.py`). Any subset can be materialized on
its own (`can_subset`). A product that fails fails only its own partitions: the others
are stored and recorded, then the step fails naming each failed product.

What the step records in Dagster is designed, not incidental: `step_records.py` says
which materializations and in which form, `step_checks.py` which check evaluations.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
from collections.abc import Iterator
from datetime import timedelta

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from testio_assets.api.client import TestIOClient
from testio_assets.defs.assets.analytics import analytics_specs
from testio_assets.defs.assets.analytics_step import (
    AnalyticsRun,
    plan_rebuild,
    rebuild_events,
    selected_tables,
    summary_line,
    unchanged_after_all,
)
from testio_assets.defs.assets.check_events import check_specs
from testio_assets.defs.assets.descriptions import DESCRIPTIONS
from testio_assets.defs.assets.metadata import GROUP, KINDS, OWNERS, table_metadata
from testio_assets.defs.assets.recording import DEFAULT_WINDOW
from testio_assets.defs.assets.step_sync import StepPlan, StepResult, sync_and_record
from testio_assets.defs.automation.orphan_runs import record_process
from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.defs.launch_tags import warn_if_settings_differ
from testio_assets.defs.storage_connections import keep_storage_connections
from testio_assets.lean import without_pandas
from testio_assets.names import BUGS, DUCKDB_POOL, FEATURES, PER_PRODUCT, PRODUCTS, TESTS, USERS
from testio_assets.store.analytics import HealthThresholds
from testio_assets.store.database import DuckDBStore
from testio_assets.store.queries import active_product_ids

MIN_FRESHNESS_WINDOW = timedelta(minutes=1)
FEATURE_TTL_METADATA = "testio/feature_ttl_seconds"  # on `features`: FEATURE_CACHE_TTL_SECONDS
UPSTREAM = {TESTS: [PRODUCTS], BUGS: [TESTS], FEATURES: [PRODUCTS], USERS: [TESTS, BUGS]}
Event = AssetMaterialization | MaterializeResult | AssetCheckEvaluation | AssetCheckResult


class ProductDataConfig(Config):
    """Run options of `product_data`."""

    full_listing: bool = Field(
        default=False,
        description=(
            "Read every page of each product's tests instead of the newest ones only, so the "
            "completeness check compares the whole listing (`sync --product` and backfills "
            "do this)."
        ),
    )
    changes_only: bool = Field(
        default=False,
        description=(
            "Record a tests, bugs or users partition in Dagster only when its rows changed, a "
            "check of it did not pass (now or last time), or its last record is older than "
            "TESTIO_RECORD_EVERY_HOURS; the rest are synced and checked, not recorded again "
            "(testio_assets/defs/assets/recording.py). The refresh schedule and a plain "
            "`testio-assets sync` set it."
        ),
    )
    skip_fresh_features: bool = Field(
        default=False,
        description=(
            "Keep features synced within FEATURE_CACHE_TTL_SECONDS without asking the API "
            "(what a plain `testio-assets sync` does). Off by default: materializing "
            "features from the UI always re-reads them."
        ),
    )
    checks: bool = Field(
        default=True,
        description="Evaluate every check of the synced assets (`sync --no-checks`: off).",
    )


def _spec(
    name: str, freshness: FreshnessPolicy | None = None, extra: dict[str, object] | None = None
) -> AssetSpec:
    return AssetSpec(
        name,
        deps=UPSTREAM[name],
        description=DESCRIPTIONS[name],
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        skippable=True,
        partitions_def=product_partitions,
        freshness_policy=freshness,
        metadata=table_metadata(name) | (extra or {}),
    )


def build_product_data_asset(
    feature_ttl_seconds: int,
    record_every: timedelta = DEFAULT_WINDOW,
    health: HealthThresholds | None = None,
    event_batches: bool = False,
    settings_digest: str = "",
) -> AssetsDefinition:
    """The multi-asset. `record_every`: how long a refresh of changes only leaves a
    partition unrecorded; `health`: the analytics' thresholds; `event_batches`: Dagster
    hands events to the event log in batches (`DAGSTER_EVENT_BATCH_SIZE`);
    `settings_digest`: this process's, compared with the run's (defs/launch_tags.py)."""
    thresholds = health or HealthThresholds()
    ttl = timedelta(seconds=feature_ttl_seconds)
    # Dagster refuses freshness windows under a minute; the sensor still uses the real TTL.
    policy = FreshnessPolicy.time_window(fail_window=max(ttl, MIN_FRESHNESS_WINDOW))
    ttl_shown = {FEATURE_TTL_METADATA: feature_ttl_seconds}  # the UI shows it; the CLI reads it
    specs = [_spec(TESTS), _spec(BUGS), _spec(FEATURES, policy, ttl_shown), _spec(USERS)]

    @multi_asset(
        name="product_data",
        specs=[*specs, *analytics_specs()],
        check_specs=check_specs(PER_PRODUCT, product_partitions),
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=DUCKDB_POOL,
        description=(
            "Syncs tests, bugs, features and users for one or many products at once, then "
            "rebuilds the analytics of the products whose data it recorded."
        ),
    )
    def product_data(
        context: AssetExecutionContext,
        config: ProductDataConfig,
        testio: TestIOClient,
        store: DuckDBStore,
    ) -> Iterator[Event]:
        keep_storage_connections(context.instance)  # one connection for the whole run
        record_process(context.instance, context.run_id)
        warn_if_settings_differ(context, settings_digest)
        plan = StepPlan.of(context, config, ttl, record_every, event_batches)
        result = StepResult()
        # One database connection for the whole step, published at its end; no pandas.
        with without_pandas(), store.writing():
            if plan.syncs:
                result = yield from sync_and_record(context, plan, testio, store)
            yield from _analytics(context, store, thresholds, plan, result)
        if result.failure_lines:
            raise Failure(
                description=(
                    f"{len(result.failed_products)} of {len(plan.product_ids)} product(s) "
                    "failed; the others were stored.\n" + "\n".join(result.failure_lines)
                ),
                metadata={"failed_products": MetadataValue.json(result.failed_products)},
            )

    return product_data


def _analytics(
    context: AssetExecutionContext,
    store: DuckDBStore,
    health: HealthThresholds,
    plan: StepPlan,
    result: StepResult,
) -> Iterator[Event]:
    """The selected analytics tables, rebuilt for the products `analytics_step.py` picks."""
    tables = selected_tables(plan.selected)
    if not tables:
        return
    run = AnalyticsRun(
        tables=tables,
        partitions=plan.product_ids if plan.partitioned else None,
        data_selected=bool(plan.data),
        recorded=result.recorded,
        checked=result.checked,
        blocked=result.blocked,
        failed=result.failed_products,
        active=[] if plan.partitioned else sorted(store.read(active_product_ids)),
        range_output=plan.range_output,
    )
    rebuild = plan_rebuild(context.instance, run)
    yield from rebuild_events(store, health, rebuild, run)
    if result.failure_lines:
        yield from unchanged_after_all(run, rebuild)
    context.log.info(summary_line(rebuild))
