"""`testio-assets sync`: the whole pipeline through Dagster's own execution, headless.

Two in-process runs recorded in the Dagster instance (so the UI shows them afterwards):
the `products` catalogue, then every per-product asset over the active product
partitions in one multi-partition run, all products concurrently, whose step ends by
rebuilding the analytics of the products that changed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    materialize,
)

from testio_assets.defs.assets.recording import RECORDED_ON_CHANGE
from testio_assets.defs.automation.orphan_runs import reap_orphaned_runs
from testio_assets.defs.automation.partition_records import latest_storage_ids
from testio_assets.defs.automation.partitions import (
    contiguous_ranges,
    product_partitions,
    range_tags,
    sync_partitions,
)
from testio_assets.names import FEATURES, PER_PRODUCT, PRODUCTS, REQUESTS_TAG
from testio_assets.store.analytics import analytics_counts
from testio_assets.store.database import DuckDBStore, lock_waits
from testio_assets.store.queries import active_product_ids, table_counts

# The console shows the runs' INFO lines, not a DEBUG line per event (900 of them for the
# large profile); every event is still in the run's history for the UI.
CONSOLE_INFO = {"console": {"config": {"log_level": "INFO"}}}


class SyncError(RuntimeError):
    """The sync could not do what was asked (the message says what and why)."""


@dataclass
class SyncSummary:
    """What a sync did, for the closing printout."""

    products: list[int] = field(default_factory=list)
    failed_products: list[int] = field(default_factory=list)
    failure: str | None = None
    requests: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    lock_waits: int = 0
    lock_wait_seconds: float = 0.0

    def render(self) -> str:
        lines = [
            f"synced {len(self.products) - len(self.failed_products)} of "
            f"{len(self.products)} product(s) in {self.seconds:.1f} s "
            f"with {self.requests} API request(s)"
        ]
        lines += [f"  {table:<32}{count:>10,} rows" for table, count in self.rows.items()]
        if self.lock_waits:
            lines.append(
                f"  waited {self.lock_waits} time(s), {self.lock_wait_seconds:.1f} s in "
                "all, for another process to release the database"
            )
        if self.failure:
            lines.append(f"FAILED: {self.failure}")
        return "\n".join(lines)


def run_sync(
    defs: Definitions,
    instance: DagsterInstance,
    product_ids: Sequence[int] | None = None,
    assets: Sequence[str] = PER_PRODUCT,
    checks: bool = True,
    analytics: bool = True,
) -> SyncSummary:
    """Refresh the catalogue, register partitions, then materialize `assets` per product,
    evaluating their checks in the same runs (unless `checks` is False) and (unless
    `analytics` is False) rebuilding the analytics of the products whose data they
    recorded, or whose analytics were never built. A plain sync (no `product_ids`)
    records only what changed (`assets/recording.py`).

    Raises:
        SyncError: a requested product is not an active product.
    """
    started = time.monotonic()
    summary = SyncSummary()
    resources = defs.resources or {}
    store = resources["store"]
    assert isinstance(store, DuckDBStore)
    runner = _Runner(list(defs.assets or []), instance, resources, checks)
    reap_orphaned_runs(instance)  # a killed earlier sync must not hold the DuckDB pool

    catalogue = runner.materialize([PRODUCTS], {"loggers": CONSOLE_INFO}, {})
    summary.run_ids.append(catalogue.run_id)
    summary.requests += _requests(instance, catalogue)
    if not catalogue.success:
        summary.failure = _failure(catalogue)[0] or "the products catalogue could not be read"
        summary.seconds = time.monotonic() - started
        return summary

    active = [str(pid) for pid in store.read(active_product_ids)]
    sync_partitions(instance, active)
    chosen = _chosen(product_ids, active)
    summary.products = sorted(int(p) for p in chosen)
    ordered = instance.get_dynamic_partitions(product_partitions.name)
    plain = not product_ids
    failures = _sync_products(runner, ordered, chosen, assets, plain, analytics, summary)
    if failures:
        summary.failure = "\n".join(failures)
        summary.failed_products = sorted(set(summary.failed_products))
    return _finished(summary, store, started)


def _sync_products(
    runner: _Runner,
    ordered: Sequence[str],
    chosen: set[str],
    assets: Sequence[str],
    plain: bool,
    analytics: bool,
    summary: SyncSummary,
) -> list[str]:
    """The per-product runs over `chosen` (one per contiguous range of `ordered`), each
    rebuilding the analytics of what it changed (unless `analytics` is False): the
    failures' messages. A plain sync keeps fresh features and records only what changed,
    as the refresh schedule does (assets/recording.py); `--product` re-reads and records
    everything."""
    # A first sync records every partition: its checks are planned (as for `--product`),
    # which Dagster stores for less than checks evaluated unplanned (docs/benchmarks.md).
    planned = not plain or _never_recorded(runner.instance, assets, chosen)
    step = {
        "skip_fresh_features": plain,
        "changes_only": plain,
        "unplanned_checks": runner.checks and not planned,
        "analytics": analytics,
    }
    config = {"ops": {"product_data": {"config": step}}, "loggers": CONSOLE_INFO}
    failures: list[str] = []
    for first, last in contiguous_ranges(ordered, chosen):
        result = runner.materialize(
            list(assets), config, range_tags(first, last), planned_checks=planned
        )
        summary.run_ids.append(result.run_id)
        summary.requests += _requests(runner.instance, result)
        if not result.success:
            text, failed = _failure(result)
            failures.append(text or f"run {result.run_id} failed")
            in_range = ordered[ordered.index(first) : ordered.index(last) + 1]
            summary.failed_products += failed or sorted(int(k) for k in in_range if k in chosen)
    return failures


def _finished(summary: SyncSummary, store: DuckDBStore, started: float) -> SyncSummary:
    """`summary` with the row counts, the lock waits and the time taken."""
    summary.rows = store.read(table_counts) | store.read(analytics_counts)
    summary.lock_waits, summary.lock_wait_seconds = lock_waits.count, lock_waits.seconds
    summary.seconds = time.monotonic() - started
    return summary


def refresh_features(defs: Definitions, instance: DagsterInstance, product_id: int) -> int:
    """Materialize one product's `features` partition (always from the API), with its
    checks; returns the API requests it made.

    Raises:
        SyncError: the run failed (the message says why).
    """
    resources = defs.resources or {}
    runner = _Runner(list(defs.assets or []), instance, resources, checks=True)
    reap_orphaned_runs(instance)
    key = str(product_id)
    if not instance.has_dynamic_partition(product_partitions.name, key):
        instance.add_dynamic_partitions(product_partitions.name, [key])
    config = {"ops": {"product_data": {"config": {"skip_fresh_features": False}}}}
    result = runner.materialize(
        [FEATURES], {**config, "loggers": CONSOLE_INFO}, range_tags(key, key)
    )
    if not result.success:
        text, _ = _failure(result)
        raise SyncError(text or f"run {result.run_id} failed")
    return _requests(instance, result)


@dataclass(frozen=True)
class _Runner:
    """In-process runs of the project's assets, recorded in `instance`."""

    assets: list[Any]
    instance: DagsterInstance
    resources: Mapping[str, Any]
    checks: bool

    def materialize(
        self,
        selection: list[str],
        run_config: dict[str, Any],
        tags: dict[str, str],
        planned_checks: bool = True,
    ) -> ExecuteInProcessResult:
        """`selection` with its checks, unless `planned_checks` or `self.checks` is False
        (the first: the step evaluates them unplanned, `assets/recording.py`)."""
        chosen = AssetSelection.assets(*selection)
        return materialize(
            self.assets,
            instance=self.instance,
            resources=self.resources,
            selection=chosen if self.checks and planned_checks else chosen.without_checks(),
            run_config=run_config,
            raise_on_error=False,
            tags={**tags, "testio/trigger": "cli-sync"},
        )


def _never_recorded(instance: DagsterInstance, assets: Sequence[str], chosen: set[str]) -> bool:
    """Whether none of `chosen` has a materialization of an asset that a refresh records
    only on change (a first sync: the refresh records all of them anyway)."""
    return not any(
        chosen & set(latest_storage_ids(instance, AssetKey(asset)))
        for asset in RECORDED_ON_CHANGE & set(assets)
    )


def _chosen(product_ids: Sequence[int] | None, active: list[str]) -> set[str]:
    """The partitions to sync: the requested products (which must be active), or all."""
    if not product_ids:
        return set(active)
    unknown = sorted({str(p) for p in product_ids} - set(active))
    if unknown:
        raise SyncError(
            f"not an active product: {', '.join(unknown)} "
            f"(active: {', '.join(active[:20])}{' ...' if len(active) > 20 else ''})"
        )
    return {str(p) for p in product_ids}


def _requests(instance: DagsterInstance, result: ExecuteInProcessResult) -> int:
    """The run's API requests: the product step's tag, else its materializations' sum."""
    run = instance.get_run_by_id(result.run_id)
    if run is not None and REQUESTS_TAG in run.tags:
        return int(run.tags[REQUESTS_TAG])
    total = 0
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get("api_requests")
        total += int(value.value) if value is not None else 0
    return total


def _failure(result: object) -> tuple[str | None, list[int]]:
    """The step failure's message and the products it names as failed."""
    for event in result.all_events:  # type: ignore[attr-defined]
        if event.is_step_failure:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and user.description:
                failed = user.metadata.get("failed_products")
                return user.description, list(failed.value) if failed is not None else []
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the framework's wrapper says less than the cause
            return (error.message.strip() if error else None), []
    return None, []
