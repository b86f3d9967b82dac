"""`testio-assets sync`: the whole pipeline through Dagster's own execution, headless.

In-process runs recorded in the Dagster instance (so the UI shows them afterwards): the
`products` catalogue, then every per-product asset over the active product partitions,
one run per contiguous stretch of them (all of them, for a plain sync), all products
concurrently, whose step ends by rebuilding the analytics of what changed. The sync holds
the database for its whole length and publishes it to readers at its end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    define_asset_job,
)

from testio_assets.commands.run_logs import cli_loggers, logger_config
from testio_assets.commands.summary import SyncSummary, requests_of, run_failure
from testio_assets.defs.assets.check_events import check_keys
from testio_assets.defs.assets.product_data import FEATURE_TTL_METADATA
from testio_assets.defs.automation.orphan_runs import reap_orphaned_runs
from testio_assets.defs.automation.partitions import (
    contiguous_ranges,
    product_partitions,
    range_tags,
    sync_partitions,
)
from testio_assets.lean import without_pandas
from testio_assets.names import FEATURES, PER_PRODUCT, PRODUCTS, analytics_of
from testio_assets.store.analytics import analytics_counts
from testio_assets.store.database import DuckDBStore, StoreError, lock_waits
from testio_assets.store.queries import (
    active_product_ids,
    products_with_fresh_features,
    table_counts,
)

RUN_JOB = "testio_cli"  # the job name the UI shows for runs of `testio-assets`

__all__ = ["SyncError", "SyncSummary", "refresh_features", "run_sync"]


class SyncError(RuntimeError):
    """The sync could not do what was asked (the message says what and why)."""


def run_sync(
    defs: Definitions,
    instance: DagsterInstance,
    product_ids: Sequence[int] | None = None,
    assets: Sequence[str] = PER_PRODUCT,
    checks: bool = True,
    analytics: bool = True,
    verbose: bool = False,
) -> SyncSummary:
    """Refresh the catalogue, register partitions, then materialize `assets` per product,
    evaluating their checks (unless `checks` is False) and rebuilding the analytics of the
    products whose data they recorded (unless `analytics` is False). A plain sync (no
    `product_ids`) records only what changed (`defs/assets/recording.py`).

    Raises:
        SyncError: a requested product is not an active product (checked against the
            stored catalogue before any API call when there is one).
        SourceMismatch: the database holds another source's data.
    """
    started = time.monotonic()
    summary = SyncSummary()
    resources = defs.resources or {}
    store = resources["store"]
    assert isinstance(store, DuckDBStore)
    runner = Runner(defs, instance, checks, verbose)
    reap_orphaned_runs(instance)  # a killed earlier sync must not look in flight forever
    try:
        _sync(runner, store, product_ids, assets, analytics, summary)
    except StoreError as exc:  # the file cannot be opened, written or published
        summary.failure = str(exc)
    summary.lock_waits, summary.lock_wait_seconds = lock_waits.count, lock_waits.seconds
    summary.seconds = time.monotonic() - started
    return summary


def _sync(
    runner: Runner,
    store: DuckDBStore,
    product_ids: Sequence[int] | None,
    assets: Sequence[str],
    analytics: bool,
    summary: SyncSummary,
) -> None:
    instance = runner.instance
    # The database held for the whole sync (its source checked before any API call); no
    # pandas in this process while it syncs (lean.py).
    with without_pandas(), store.writing():
        stored = store.read(active_product_ids)
        if product_ids and stored:
            _chosen(product_ids, [str(pid) for pid in stored])
        catalogue = runner.run([PRODUCTS], {}, None)
        summary.run_ids.append(catalogue.run_id)
        summary.requests += requests_of(instance, catalogue)
        if not catalogue.success:
            summary.failure = run_failure(catalogue)[0] or "the products catalogue was not read"
            return
        active = [str(pid) for pid in store.read(active_product_ids)]
        sync_partitions(instance, active)
        chosen = _chosen(product_ids, active)
        summary.products = sorted(int(p) for p in chosen)
        ordered = instance.get_dynamic_partitions(product_partitions.name)
        failures = _sync_products(runner, ordered, chosen, assets, analytics, summary)
        if failures:
            summary.failure = "\n".join(failures)
            summary.failed_products = sorted(set(summary.failed_products))
        summary.rows = store.read(table_counts) | store.read(analytics_counts)


def _sync_products(
    runner: Runner,
    ordered: Sequence[str],
    chosen: set[str],
    assets: Sequence[str],
    analytics: bool,
    summary: SyncSummary,
) -> list[str]:
    """The per-product runs over `chosen` (one per contiguous range of `ordered`): the
    failures' messages. A plain sync (every active product) keeps fresh features and
    records only what changed, as the refresh schedule does; `--product` re-reads every
    page of its tests and records everything."""
    plain = chosen == set(ordered)
    if plain and FEATURES in assets and runner.features_fresh(chosen):
        # With every product's features fresh the runs leave them out, as the refresh
        # schedule does (a planned event fewer per product).
        assets = [asset for asset in assets if asset != FEATURES]
    step = {
        "skip_fresh_features": plain,
        "changes_only": plain,
        "full_listing": not plain,
        "checks": runner.checks,
    }
    selection = [*assets, *(analytics_of(list(assets)) if analytics else [])]
    failures: list[str] = []
    for first, last in contiguous_ranges(ordered, chosen):
        result = runner.run(selection, {"product_data": {"config": step}}, (first, last))
        summary.run_ids.append(result.run_id)
        summary.requests += requests_of(runner.instance, result)
        if not result.success:
            text, failed = run_failure(result)
            failures.append(text or f"run {result.run_id} failed")
            in_range = ordered[ordered.index(first) : ordered.index(last) + 1]
            summary.failed_products += failed or sorted(int(k) for k in in_range if k in chosen)
    return failures


def refresh_features(defs: Definitions, instance: DagsterInstance, product_id: int) -> int:
    """Materialize one product's `features` partition (always from the API), with its
    checks and the analytics that read features; returns the API requests it made.

    Raises:
        SyncError: the run failed (the message says why).
    """
    runner = Runner(defs, instance, checks=True, verbose=False)
    reap_orphaned_runs(instance)
    key = str(product_id)
    if not instance.has_dynamic_partition(product_partitions.name, key):
        instance.add_dynamic_partitions(product_partitions.name, [key])
    config = {"product_data": {"config": {"skip_fresh_features": False}}}
    result = runner.run([FEATURES, *analytics_of([FEATURES])], config, (key, key))
    if not result.success:
        text, _ = run_failure(result)
        raise SyncError(text or f"run {result.run_id} failed")
    return requests_of(instance, result)


@dataclass
class Runner:
    """In-process runs of the project's assets, recorded in `instance`."""

    defs: Definitions
    instance: DagsterInstance
    checks: bool
    verbose: bool
    resources: Mapping[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = self.defs.resources or {}

    def features_fresh(self, partitions: set[str]) -> bool:
        """Whether every product in `partitions` has features synced within the TTL."""
        spec = self.defs.resolve_assets_def(FEATURES).specs_by_key[AssetKey(FEATURES)]
        ttl = timedelta(seconds=int(spec.metadata[FEATURE_TTL_METADATA]))
        fresh = self.resources["store"].read(
            partial(products_with_fresh_features, synced_after=datetime.now(UTC) - ttl)
        )
        return {int(key) for key in partitions} <= fresh

    def run(
        self, selection: list[str], ops: dict[str, Any], span: tuple[str, str] | None
    ) -> ExecuteInProcessResult:
        """One run of `selection` over the partitions `span` (first, last; None for the
        catalogue). The catalogue's checks and a single product's are planned; over many
        products the step evaluates them unplanned and records what it decides
        (defs/assets/check_events.py)."""
        single = span is not None and span[0] == span[1]
        chosen = AssetSelection.assets(*selection).without_checks()
        planned = [a for a in selection if a == PRODUCTS or (single and a in PER_PRODUCT)]
        if self.checks and planned:
            chosen = chosen | AssetSelection.checks(*check_keys(planned))
        defs = Definitions(
            assets=list(self.defs.assets or []),
            resources=self.resources,
            jobs=[define_asset_job(RUN_JOB, selection=chosen)],
            loggers=cli_loggers(self.verbose),
            executor=self.defs.executor,
        )
        tags = {"testio/trigger": "cli-sync"}
        if span is not None and not single:
            tags |= range_tags(*span)
        return defs.resolve_job_def(RUN_JOB).execute_in_process(
            run_config={"ops": ops, "loggers": logger_config(self.verbose)},
            instance=self.instance,
            partition_key=span[0] if single and span else None,
            raise_on_error=False,
            tags=tags,
        )


def _chosen(product_ids: Sequence[int] | None, active: list[str]) -> set[str]:
    """The partitions to sync: the requested products (which must be active), or all."""
    if not product_ids:
        return set(active)
    unknown = sorted({str(p) for p in product_ids} - set(active))
    if unknown:
        shown = ", ".join(active[:20]) + (" ..." if len(active) > 20 else "")
        raise SyncError(
            f"not a product of this account's catalogue: {', '.join(unknown)} "
            f"(active products: {shown or 'none'}; `testio-assets products` lists them)"
        )
    return {str(p) for p in product_ids}
