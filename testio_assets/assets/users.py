"""`users`: everyone a product's data names, derived with SQL from stored tests and bugs."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from testio_assets.assets.report import StepReport
from testio_assets.store.database import DuckDBStore
from testio_assets.store.writers import WriteCounts, rebuild_users

DESCRIPTION = """Everyone the product's data names: testers (bug, comment and reproduction
authors) and customer users (test `created_by` / `submitted_by`), with role, first and
last activity and counts. Derived from the stored tests and bugs with SQL: no API calls."""


async def sync_users(store: DuckDBStore, product_id: int, now: datetime) -> StepReport:
    started = time.monotonic()

    def write() -> WriteCounts:
        with store.transaction() as conn:
            return rebuild_users(conn, product_id, now)

    counts = await asyncio.to_thread(write)
    return StepReport(counts=counts, seconds=time.monotonic() - started)
