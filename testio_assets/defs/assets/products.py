"""`products`: the product catalogue, the source of the product partitions."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    multi_asset,
)

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.defs.assets.check_events import check_specs, result, wanted_checks
from testio_assets.defs.assets.descriptions import DESCRIPTIONS
from testio_assets.defs.assets.metadata import GROUP, KINDS, OWNERS, report_metadata, table_metadata
from testio_assets.defs.automation.orphan_runs import record_process
from testio_assets.defs.launch_tags import warn_if_settings_differ
from testio_assets.defs.storage_connections import keep_storage_connections
from testio_assets.lean import without_pandas
from testio_assets.names import DUCKDB_POOL, PRODUCTS
from testio_assets.store.database import DuckDBStore
from testio_assets.sync.products import check_catalogue, sync_products


def build_products_asset(settings_digest: str = "") -> AssetsDefinition:
    """The catalogue asset. Built by a function, as every definition here: `pipeline.py`
    assembles them from the settings (`settings_digest`: defs/launch_tags.py)."""

    @multi_asset(
        name=PRODUCTS,
        specs=[
            AssetSpec(
                PRODUCTS,
                description=DESCRIPTIONS[PRODUCTS],
                group_name=GROUP,
                owners=OWNERS,
                kinds=KINDS,
                skippable=True,
                metadata=table_metadata(PRODUCTS),
            )
        ],
        check_specs=check_specs([PRODUCTS]),
        can_subset=True,
        pool=DUCKDB_POOL,
    )
    def products(
        context: AssetExecutionContext, testio: TestIOClient, store: DuckDBStore
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        keep_storage_connections(context.instance)  # one connection for the whole run
        record_process(context.instance, context.run_id)
        warn_if_settings_differ(context, settings_digest)
        wanted = wanted_checks(context.selected_asset_check_keys).get(PRODUCTS, frozenset())
        now = datetime.now(UTC)
        try:
            # One database connection for the step, published at its end; no pandas.
            with without_pandas(), store.writing():
                if context.selected_asset_keys:
                    report = asyncio.run(sync_products(testio, store, now, wanted))
                else:  # the checks alone, on what is stored
                    report = asyncio.run(check_catalogue(testio, store, wanted))
        except TokenRefusedError as refused:
            raise Failure(description=str(refused), allow_retries=False) from None
        if report.materialized:
            context.log.info(
                "products: %d active, %d created, %d updated (incl. deactivated)",
                report.extra["products_active"],
                report.counts.created,
                report.counts.updated,
            )
            yield MaterializeResult(
                asset_key=PRODUCTS,
                metadata=report_metadata(report, partitioned=False),
                check_results=[result(outcome) for outcome in report.checks],
            )
        else:
            yield from (result(outcome) for outcome in report.checks)

    return products
