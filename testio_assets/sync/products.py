"""The `products` step: the catalogue, the source of the product partitions."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from testio_assets.api.client import TestIOClient
from testio_assets.store.database import DuckDBStore
from testio_assets.store.rows import product_rows
from testio_assets.store.writers import write_products
from testio_assets.sync.report import StepReport


async def sync_products(client: TestIOClient, store: DuckDBStore, now: datetime) -> StepReport:
    """Read `GET /products` and merge it into the `products` table."""
    started = time.monotonic()
    async with client.session() as session:
        products = await session.list_products()
    unique = list({p.id: p for p in products}.values())
    staged = product_rows(unique, now)
    counts = await asyncio.to_thread(store.write, write_products, staged)
    report = StepReport(
        counts=counts,
        extra={
            "products_active": len(unique),
            "products_sectioned": sum(p.is_sectioned for p in unique),
        },
        seconds=time.monotonic() - started,
    )
    report.add_stats(session.stats)
    return report
