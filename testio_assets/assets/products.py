"""`products`: the product catalogue, the source of the product partitions."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
import asyncio
import time
from datetime import UTC, datetime

from dagster import AssetExecutionContext, Failure, MaterializeResult, asset

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.assets.columns import column_schema
from testio_assets.assets.report import StepReport
from testio_assets.store.database import DuckDBStore
from testio_assets.store.rows import product_rows
from testio_assets.store.writers import WriteCounts, write_products

GROUP = "testio"
OWNERS = ["team:data-engineering"]
KINDS = {"duckdb", "python"}


async def fetch_and_store_products(
    client: TestIOClient, store: DuckDBStore, now: datetime
) -> StepReport:
    """Read `GET /products` and merge it into the `products` table."""
    started = time.monotonic()
    async with client.session() as session:
        products = await session.list_products()
    unique = list({p.id: p for p in products}.values())
    staged = product_rows(unique, now)

    def write() -> WriteCounts:
        with store.transaction() as conn:
            return write_products(conn, staged)

    counts = await asyncio.to_thread(write)
    report = StepReport(
        counts=counts,
        extra={
            "products_active": len(unique),
            "products_sectioned": sum(p.is_sectioned for p in unique),
        },
    )
    report.add_stats(session.stats)
    report.seconds = time.monotonic() - started
    return report


@asset(
    name="products",
    description="""The Test IO product catalogue (`GET /products`): name, type, sections and an
`is_sectioned` flag. Products that vanish upstream are marked inactive, never deleted with
their data. Each active product is one partition of the per-product assets.""",
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    metadata={"dagster/column_schema": column_schema("products"), "dagster/table_name": "products"},
)
def products(
    context: AssetExecutionContext, testio: TestIOClient, store: DuckDBStore
) -> MaterializeResult:
    try:
        report = asyncio.run(fetch_and_store_products(testio, store, datetime.now(UTC)))
    except TokenRefusedError as refused:
        raise Failure(description=str(refused), allow_retries=False) from None
    context.log.info(
        "products: %d active, %d created, %d updated (incl. deactivated)",
        report.extra["products_active"],
        report.counts.created,
        report.counts.updated,
    )
    return MaterializeResult(metadata=report.metadata())
