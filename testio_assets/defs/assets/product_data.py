"""The per-product assets `tests`, `bugs`, `features` and `users`, computed in one step.

They are one multi-asset so that a run over many product partitions works on all of them
at once (the engine is `sync/engine.py`); any subset of the four can be materialized on
its own (`can_subset`). A product that fails fails only its own partitions: the others
are stored and reported as materialized, then the step fails naming each failed product.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    Failure,
    FreshnessPolicy,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.checks.definitions import CheckOutcome
from testio_assets.checks.run import CheckPlan
from testio_assets.defs.assets.analytics_rebuild import rebuild
from testio_assets.defs.assets.checks import all_checks, check_specs, evaluation, wanted_checks
from testio_assets.defs.assets.descriptions import DESCRIPTIONS
from testio_assets.defs.assets.metadata import (
    GROUP,
    KINDS,
    OWNERS,
    change_summary,
    report_metadata,
    table_metadata,
)
from testio_assets.defs.assets.outdated_analytics import outdated_partitions
from testio_assets.defs.assets.recording import DEFAULT_WINDOW, RecordPolicy, changes_policy
from testio_assets.defs.automation.orphan_runs import record_process
from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.instance.check_targets import latest_materializations
from testio_assets.names import (
    ANALYTICS_IN_STEP_TAG,
    BUGS,
    DUCKDB_POOL,
    FEATURES,
    PER_PRODUCT,
    PRODUCTS,
    REQUESTS_TAG,
    TESTS,
    USERS,
    analytics_of,
)
from testio_assets.store.analytics import HealthThresholds
from testio_assets.store.database import DuckDBStore
from testio_assets.sync.background import BackgroundSync
from testio_assets.sync.engine import SyncPlan, sync_product_partitions
from testio_assets.sync.gc_tuning import relaxed_gc
from testio_assets.sync.progress import Progress
from testio_assets.sync.report import PartitionOutcome, StepReport

MIN_FRESHNESS_WINDOW = timedelta(minutes=1)
BACKFILL_TAG = "dagster/backfill"  # set by Dagster on every run of a backfill
UPSTREAM = {TESTS: [PRODUCTS], BUGS: [TESTS], FEATURES: [PRODUCTS], USERS: [TESTS, BUGS]}


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
            "(testio_assets/assets/recording.py). The refresh schedule and a plain "
            "`testio-assets sync` set it."
        ),
    )
    unplanned_checks: bool = Field(
        default=False,
        description=(
            "Evaluate every check of the selected assets although the run planned none "
            "(with changes_only: a planned check left unrecorded would show as skipped)."
        ),
    )
    analytics: bool = Field(
        default=True,
        description=(
            "At the end of the step, rebuild the analytics of the products whose data it "
            "recorded (or whose analytics were never built), in the same step "
            "(testio_assets/assets/outdated_analytics.py). Off, the analytics automation "
            "sensor rebuilds them in runs of its own."
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


def _spec(name: str, freshness: FreshnessPolicy | None = None) -> AssetSpec:
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
        metadata=table_metadata(name),
    )


def build_product_data_asset(
    feature_ttl_seconds: int,
    record_every: timedelta = DEFAULT_WINDOW,
    health: HealthThresholds | None = None,
) -> AssetsDefinition:
    """The multi-asset, with the `features` freshness window taken from the settings;
    `record_every`: how long a refresh of changes only leaves a partition unrecorded;
    `health`: the thresholds of the analytics it rebuilds."""
    thresholds = health or HealthThresholds()
    ttl = timedelta(seconds=feature_ttl_seconds)
    # Dagster refuses freshness windows under a minute; the sensor still uses the real TTL.
    policy = FreshnessPolicy.time_window(fail_window=max(ttl, MIN_FRESHNESS_WINDOW))
    specs = [_spec(TESTS), _spec(BUGS), _spec(FEATURES, policy), _spec(USERS)]

    @multi_asset(
        name="product_data",
        specs=specs,
        check_specs=check_specs(PER_PRODUCT, product_partitions),
        partitions_def=product_partitions,
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
    ) -> Iterator[AssetMaterialization | AssetCheckEvaluation]:
        if config.analytics:  # the analytics automation leaves this run's updates to us
            context.instance.add_run_tags(context.run_id, {ANALYTICS_IN_STEP_TAG: "true"})
        outcome = yield from _sync_step(context, config, testio, store, ttl, record_every)
        if config.analytics:  # after every record, failed runs' too: nothing left behind
            yield from _analytics(context, store, thresholds)
        if outcome.failures:
            n = len(context.partition_keys)
            raise Failure(
                description=(
                    f"{len(outcome.failed_products)} of {n} product(s) failed; the others "
                    "were stored.\n" + "\n".join(outcome.failure_lines())
                ),
                metadata={"failed_products": MetadataValue.json(outcome.failed_products)},
            )

    return product_data


CHECK_BATCH = 64  # check outcomes whose targets are looked up together


def _report_events(
    context: AssetExecutionContext,
    sync: BackgroundSync[Any],
    progress: Progress,
    policy: RecordPolicy,
) -> Generator[AssetMaterialization | AssetCheckEvaluation, None, list[tuple[str, int]]]:
    """Each report as events, as it arrives: one materialization per asset and partition,
    each with its own figures (the step yields no outputs, so partitions that failed are
    not reported as stored), then its check evaluations, batched while reports queue up
    so their target materializations are looked up in one query per asset. A report the
    `policy` does not record yields nothing: its (asset, product) is returned, for
    `_recorded_after_all`."""
    pending: list[tuple[str, int, list[CheckOutcome]]] = []
    unrecorded: list[tuple[str, int]] = []
    requests = 0
    for name, pid, report in sync:
        requests += report.requests
        if name in progress.expected:
            progress.add(name, report)
            if progress.due():
                context.log.info(progress.line())
        if report.materialized and not policy.records(name, pid, report):
            unrecorded.append((name, pid))
            continue
        if report.materialized:
            yield _materialization(name, pid, report)
        if report.checks:
            pending.append((name, pid, report.checks))
        if pending and (len(pending) >= CHECK_BATCH or not sync.has_ready()):
            yield from _evaluations(context, pending)
            pending = []
    yield from _evaluations(context, pending)
    # Unrecorded partitions made requests too: the run's total is a tag (UI, `sync`).
    context.instance.add_run_tags(context.run_id, {REQUESTS_TAG: str(requests)})
    if unrecorded:
        context.log.info(
            "%d partition(s) unchanged, checks passed and recorded within %g h: not "
            "recorded again (testio_assets/assets/recording.py)",
            len(unrecorded),
            policy.window.total_seconds() / 3600,
        )
    return unrecorded


def _materialization(name: str, pid: int, report: StepReport) -> AssetMaterialization:
    return AssetMaterialization(
        asset_key=AssetKey(name), partition=str(pid), metadata=report_metadata(report)
    )


def _recorded_after_all(
    context: AssetExecutionContext, outcome: PartitionOutcome, unrecorded: list[tuple[str, int]]
) -> Iterator[AssetMaterialization | AssetCheckEvaluation]:
    """The partitions left unrecorded (their reports are in `outcome`), recorded after all
    because the run fails: Dagster shows every partition that a failed run planned and did
    not materialize as failed, and only the failed products' partitions should."""
    if unrecorded:
        context.log.info(
            "the run fails: recording the %d unchanged partition(s) too, so that only the "
            "failed products' partitions show as failed",
            len(unrecorded),
        )
    for start in range(0, len(unrecorded), CHECK_BATCH):
        batch = [
            (name, pid, outcome.reports[(name, pid)])
            for name, pid in unrecorded[start : start + CHECK_BATCH]
        ]
        for name, pid, report in batch:
            yield _materialization(name, pid, report)
        yield from _evaluations(
            context, [(name, pid, report.checks) for name, pid, report in batch if report.checks]
        )


def _evaluations(
    context: AssetExecutionContext, pending: list[tuple[str, int, list[CheckOutcome]]]
) -> Iterator[AssetCheckEvaluation]:
    targets = latest_materializations(context.instance, [(n, str(p)) for n, p, _ in pending])
    for name, pid, outcomes in pending:
        target = targets[(name, str(pid))]
        yield from (evaluation(outcome, target) for outcome in outcomes)


def _sync_step(
    context: AssetExecutionContext,
    config: ProductDataConfig,
    testio: TestIOClient,
    store: DuckDBStore,
    ttl: timedelta,
    record_every: timedelta,
) -> Generator[AssetMaterialization | AssetCheckEvaluation, None, PartitionOutcome]:
    """The step: plan from the run's partitions and selection, sync, report as it goes;
    returns what happened (the caller fails the step if a product failed)."""
    record_process(context.instance, context.run_id)
    now = datetime.now(UTC)
    selected = frozenset(key.path[-1] for key in context.selected_asset_keys)
    checks = (
        all_checks(selected)
        if config.unplanned_checks
        else wanted_checks(context.selected_asset_check_keys)
    )
    plan = SyncPlan(
        product_ids=[int(key) for key in context.partition_keys],
        selected=selected,
        now=now,
        features_fresh_for=ttl if config.skip_fresh_features else None,
        full_listing=config.full_listing or BACKFILL_TAG in context.run.tags,
        checks=CheckPlan(checks, ttl, now),
    )
    policy = (
        changes_policy(context.instance, selected, context.partition_keys, now, record_every)
        if config.changes_only
        else RecordPolicy()
    )
    context.log.info(
        "syncing %s for %d product(s)%s",
        ", ".join(sorted(plan.selected)) or "nothing",
        len(plan.product_ids),
        f"; checking {', '.join(plan.checked_only)} only" if plan.checked_only else "",
    )
    sync = BackgroundSync(partial(sync_product_partitions, testio, store, plan))
    with relaxed_gc():
        unrecorded = yield from _report_events(
            context, sync, Progress.of(plan.selected, len(plan.product_ids)), policy
        )
    try:
        outcome = sync.result()
    except TokenRefusedError as refused:
        raise Failure(description=str(refused), allow_retries=False) from None
    context.log.info(change_summary(outcome))
    if outcome.failures:
        yield from _recorded_after_all(context, outcome, unrecorded)
    return outcome


def _analytics(
    context: AssetExecutionContext, store: DuckDBStore, health: HealthThresholds
) -> Iterator[AssetMaterialization]:
    """The analytics computed from the selected assets, rebuilt for the step's products
    whose data it recorded (or whose analytics were never built), unless held back by a
    blocking check that did not pass: one step, however scattered the changes."""
    tables = analytics_of([key.path[-1] for key in context.selected_asset_keys])
    chosen = outdated_partitions(context.instance, tables, list(context.partition_keys))
    summary = yield from rebuild(
        store, health, {table: [int(key) for key in keys] for table, keys in chosen.items()}
    )
    if summary:
        context.log.info("rebuilt the analytics of what changed: %s", "; ".join(summary))
