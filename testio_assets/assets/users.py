"""`users`: everyone a product's data names, derived with SQL from stored tests and bugs."""

from __future__ import annotations

import time
from datetime import datetime

from testio_assets.assets.report import StepReport
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import UsersWrite, write_users

DESCRIPTION = """Everyone the product's data names: testers (bug, comment and reproduction
authors) and customer users (test `created_by` / `submitted_by`), with role, first and
last activity and counts. Derived from the stored tests and bugs with SQL: no API calls."""


async def sync_users(
    db: StoreSession, product_id: int, now: datetime, rebuild: bool = True
) -> StepReport:
    """Rebuild the product's users; with `rebuild=False` (its tests and bugs did not change
    in this run) only count them."""
    started = time.monotonic()
    counts = await db.write_batched(write_users, UsersWrite(product_id, now, rebuild))
    return StepReport(
        counts=counts, seconds=time.monotonic() - started, extra={"rebuilt": int(rebuild)}
    )
