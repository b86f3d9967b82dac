"""`tests`: every exploratory test of a product, read incrementally."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from duckdb import DuckDBPyConnection

from testio_assets.api.client import ApiSession
from testio_assets.api.models import ExploratoryTest
from testio_assets.assets.report import StepReport
from testio_assets.store.rows import test_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import TestsWrite, write_tests

log = logging.getLogger("testio_assets.assets")

DESCRIPTION = """Every exploratory test (test cycle) of the product.

The first sync pages through all tests. Later syncs page newest-first only until they
reach tests already stored, plus one page of overlap, and re-read by id only the tests
that can still change (not archived/cancelled; unknown statuses count as changeable).
Test-environment credentials are never stored."""


def stored_tests(conn: DuckDBPyConnection, product_id: int) -> dict[int, bool]:
    """Stored test ids of the product -> whether the test is final."""
    rows = conn.execute(
        "SELECT id, is_final FROM tests WHERE product_id = ?", [product_id]
    ).fetchall()
    return {int(test_id): bool(final) for test_id, final in rows}


async def read_new_tests(
    session: ApiSession, product_id: int, known: set[int]
) -> dict[int, ExploratoryTest]:
    """Pages newest-first; stops one page after the first page that holds a known test."""
    seen: dict[int, ExploratoryTest] = {}
    overlap_left = None
    async for page in session.test_pages(product_id):
        for test in page:
            seen.setdefault(test.id, test)  # an id repeated across pages is kept once
        if overlap_left is None and known and any(t.id in known for t in page):
            overlap_left = 1
        elif overlap_left is not None:
            overlap_left -= 1
        if overlap_left == 0:
            break
    return seen


async def sync_tests(
    session: ApiSession, db: StoreSession, product_id: int, now: datetime
) -> StepReport:
    started = time.monotonic()
    api = session.scoped()
    known = await db.read(lambda conn: stored_tests(conn, product_id))
    seen = await read_new_tests(api, product_id, set(known))
    to_reread = [tid for tid, final in known.items() if not final and tid not in seen]
    reread = await asyncio.gather(*(api.get_test(tid, product_id) for tid in to_reread))
    vanished = [tid for tid, test in zip(to_reread, reread, strict=True) if test is None]
    if vanished:
        log.warning(
            "product %d: %d stored test(s) no longer answer (404), kept as they were: %s",
            product_id,
            len(vanished),
            vanished[:20],
        )
    fresh = list(seen.values()) + [t for t in reread if t is not None]
    staged = test_rows(product_id, fresh, now)
    counts = await db.write_batched(write_tests, TestsWrite(product_id, staged))
    report = StepReport(counts=counts)
    report.add_stats(api.stats)
    report.extra = {
        "tests_new": sum(1 for t in fresh if t.id not in known),
        "tests_refreshed": sum(1 for t in fresh if t.id in known),
        "tests_skipped_final": sum(1 for tid, final in known.items() if final and tid not in seen),
    }
    report.seconds = time.monotonic() - started
    return report
