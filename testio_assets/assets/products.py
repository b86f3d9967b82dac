"""`products`: the product catalogue, the source of the product partitions."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
import asyncio
from datetime import UTC, datetime

from dagster import AssetExecutionContext, Failure, MaterializeResult, asset

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.assets.descriptions import DESCRIPTIONS
from testio_assets.assets.metadata import GROUP, KINDS, OWNERS, report_metadata, table_metadata
from testio_assets.names import PRODUCTS
from testio_assets.store.database import DuckDBStore
from testio_assets.sync.products import sync_products


@asset(
    name=PRODUCTS,
    description=DESCRIPTIONS[PRODUCTS],
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    metadata=table_metadata(PRODUCTS),
)
def products(
    context: AssetExecutionContext, testio: TestIOClient, store: DuckDBStore
) -> MaterializeResult:
    try:
        report = asyncio.run(sync_products(testio, store, datetime.now(UTC)))
    except TokenRefusedError as refused:
        raise Failure(description=str(refused), allow_retries=False) from None
    context.log.info(
        "products: %d active, %d created, %d updated (incl. deactivated)",
        report.extra["products_active"],
        report.counts.created,
        report.counts.updated,
    )
    return MaterializeResult(metadata=report_metadata(report))
