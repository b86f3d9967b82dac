"""The analytics part of the product step: which products' tables to rebuild, as events.

With data assets selected, the step rebuilds the tables computed from what it recorded,
for the products it recorded (or whose summary was never built); on their own (the
automation sensor, Materialize in the UI) the analytics are rebuilt for the run's
partitions, or for every active product when only tables spanning products are asked for.
A product is left out while a blocking check of its data fails: in this run, or (when
this run did not check it) at its latest evaluation, what Dagster's
`all_deps_blocking_checks_passed` holds back too.

`product_quality_summary` gets one materialization per product; the tables spanning
products one per run, naming how many products it rebuilt. When the run fails (a product
the token may not read), the summary partitions it planned and did not rebuild are
recorded anyway, unchanged, so that only the failed products show as failed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    MaterializeResult,
)

from testio_assets.checks.definitions import checks_of
from testio_assets.defs.assets.analytics_preview import (
    PREVIEW_ROWS,
    metadata_by_product,
    preview_order,
    run_metadata,
)
from testio_assets.defs.automation.partition_records import (
    latest_storage_ids,
    unsettled_check_partitions,
)
from testio_assets.names import (
    ANALYTICS,
    ANALYTICS_UPSTREAM,
    PARTITIONED_ANALYTICS,
    PER_PRODUCT,
    PRODUCT_QUALITY_SUMMARY,
)
from testio_assets.store.analytics import HealthThresholds, refresh, rows_of
from testio_assets.store.database import DuckDBStore
from testio_assets.timings import timed

Event = AssetMaterialization | MaterializeResult


@dataclass(frozen=True)
class AnalyticsRun:
    """What the step knows when it reaches the analytics.

    `partitions`: the run's product partitions (None: a run without partitions);
    `recorded`: the (asset, product) the step recorded; `checked`: products whose
    blocking checks ran in this step; `blocked`: those whose blocking check failed;
    `failed`: products whose sync failed; `active`: every active product.
    """

    tables: Sequence[str]
    partitions: Sequence[int] | None
    data_selected: bool
    recorded: Collection[tuple[str, int]]
    checked: Collection[int]
    blocked: Collection[int]
    failed: Collection[int]
    active: Sequence[int]
    range_output: bool


def selected_tables(selected: Collection[str]) -> list[str]:
    return [name for name in ANALYTICS if name in selected]


def plan_rebuild(instance: DagsterInstance, run: AnalyticsRun) -> dict[str, list[int]]:
    """Per table, the products to rebuild."""
    held = _held(instance, run)
    scope = list(run.partitions) if run.partitions is not None else list(run.active)
    if not run.data_selected:
        chosen = [pid for pid in scope if pid not in held]
        return {table: chosen for table in run.tables}
    built = latest_storage_ids(instance, AssetKey(PRODUCT_QUALITY_SUMMARY))
    never = {pid for pid in scope if str(pid) not in built}
    plan = {}
    for table in run.tables:
        upstream = set(ANALYTICS_UPSTREAM[table])
        changed = {pid for asset, pid in run.recorded if asset in upstream}
        wanted = (changed | never) - held - set(run.failed)
        plan[table] = [pid for pid in scope if pid in wanted]
    return plan


def _held(instance: DagsterInstance, run: AnalyticsRun) -> set[int]:
    """Products whose blocking checks fail: now, or last time when not checked now."""
    earlier = unsettled_check_partitions(instance, blocking_checks(list(PER_PRODUCT)))
    return set(run.blocked) | {int(key) for key in earlier if int(key) not in run.checked}


def blocking_checks(assets: Sequence[str]) -> list[AssetCheckKey]:
    """The blocking checks of `assets`."""
    return [
        AssetCheckKey(AssetKey(asset), check.name)
        for asset in assets
        for check in checks_of(asset)
        if check.blocking
    ]


def rebuild_events(
    store: DuckDBStore,
    health: HealthThresholds,
    plan: Mapping[str, Sequence[int]],
    run: AnalyticsRun,
) -> Iterator[Event]:
    """Rebuild each table for its products; one materialization per product of the
    summary (or one for the run's whole range), one per table spanning products."""
    for table, product_ids in plan.items():
        if not product_ids:
            continue
        with timed("analytics"):
            counts = store.write(refresh, table, list(product_ids), health)
            if table in PARTITIONED_ANALYTICS:  # one row per product: all of them
                rows = store.read(rows_of, table, list(product_ids))
            else:  # rows spanning products: only the preview's
                order = preview_order(table)
                rows = store.read(rows_of, table, list(product_ids), order, PREVIEW_ROWS)
        if table not in PARTITIONED_ANALYTICS:
            yield MaterializeResult(asset_key=table, metadata=run_metadata(table, rows, counts))
        elif run.range_output and run.partitions and len(product_ids) == len(run.partitions):
            yield MaterializeResult(asset_key=table, metadata=run_metadata(table, rows, counts))
        else:
            metadata = metadata_by_product(table, rows, counts)
            for pid in product_ids:
                yield AssetMaterialization(table, partition=str(pid), metadata=metadata[pid])


def unchanged_after_all(run: AnalyticsRun, rebuilt: Mapping[str, Sequence[int]]) -> Iterator[Event]:
    """In a failing run: the planned summary partitions not rebuilt, recorded unchanged
    (failed products excepted, they show failed)."""
    if PRODUCT_QUALITY_SUMMARY not in run.tables or run.partitions is None:
        return
    done = set(rebuilt.get(PRODUCT_QUALITY_SUMMARY, []))
    for pid in run.partitions:
        if pid not in done and pid not in run.failed:
            yield AssetMaterialization(
                PRODUCT_QUALITY_SUMMARY,
                partition=str(pid),
                metadata={"rebuilt": False, "why": "its data did not change in this run"},
            )


def summary_line(plan: Mapping[str, Sequence[int]]) -> str:
    parts = [f"{table} of {len(ids)} product(s)" for table, ids in plan.items() if ids]
    return "rebuilt the analytics: " + ("; ".join(parts) if parts else "none needed")
