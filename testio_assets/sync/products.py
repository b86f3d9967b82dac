"""The `products` step: the catalogue, the source of the product partitions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import datetime

from testio_assets.api.client import TestIOClient
from testio_assets.checks.definitions import checks_of
from testio_assets.checks.evaluate import Listing, catalogue_checks
from testio_assets.names import PRODUCTS
from testio_assets.store.check_facts import catalogue_facts
from testio_assets.store.database import DuckDBStore
from testio_assets.store.rows import product_rows
from testio_assets.store.writers import write_products
from testio_assets.sync.report import StepReport


async def sync_products(
    client: TestIOClient, store: DuckDBStore, now: datetime, checks: Collection[str] = ()
) -> StepReport:
    """Read `GET /products`, merge it into `products`, and evaluate `checks` on the result."""
    started = time.monotonic()
    async with client.session() as session:
        products = await session.list_products()
    unique = list({p.id: p for p in products}.values())
    staged = product_rows(unique, now)
    counts = await asyncio.to_thread(store.write, write_products, staged)
    listing = Listing(frozenset(p.id for p in unique), full=True)
    report = StepReport(
        counts=counts,
        extra={
            "products_active": len(unique),
            "products_sectioned": sum(p.is_sectioned for p in unique),
        },
        seconds=time.monotonic() - started,
        listing=listing,
    )
    report.add_stats(session.stats)
    if checks:
        facts = await asyncio.to_thread(store.read, catalogue_facts)
        report.checks = catalogue_checks(*facts, listing, checks)
    return report


async def check_catalogue(
    client: TestIOClient, store: DuckDBStore, checks: Collection[str]
) -> StepReport:
    """The catalogue's checks on what is stored; the API is asked only when a check needs
    its listing."""
    started = time.monotonic()
    report = StepReport(materialized=False)
    if any(c.needs_api and c.name in checks for c in checks_of(PRODUCTS)):
        async with client.session() as session:
            listed = await session.list_products()
        report.listing = Listing(frozenset(p.id for p in listed), full=True)
        report.add_stats(session.stats)
    facts = await asyncio.to_thread(store.read, catalogue_facts)
    report.checks = catalogue_checks(*facts, report.listing, checks)
    report.seconds = time.monotonic() - started
    return report
