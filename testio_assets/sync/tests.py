"""The `tests` step: every exploratory test of a product, read incrementally."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from functools import partial

from testio_assets.api.models import ExploratoryTest
from testio_assets.api.session import ApiSession
from testio_assets.checks.evaluate import Listing
from testio_assets.names import TESTS
from testio_assets.store.queries import stored_tests
from testio_assets.store.rows import skipped_rows, test_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import TestsWrite, write_tests
from testio_assets.sync.report import StepReport
from testio_assets.sync.test_reread import plan_reread

log = logging.getLogger("testio_assets.sync")


async def read_new_tests(
    api: ApiSession, product_id: int, known: set[int]
) -> tuple[dict[int, ExploratoryTest], int]:
    """Pages newest-first; stops one page after the first page that holds a known test.
    Returns the tests seen and how many pages were read."""
    seen: dict[int, ExploratoryTest] = {}
    overlap_left = None
    pages = 0
    async for page in api.test_pages(product_id):
        pages += 1
        for test in page:
            seen.setdefault(test.id, test)  # an id repeated across pages is kept once
        if overlap_left is None and known and any(t.id in known for t in page):
            overlap_left = 1
        elif overlap_left is not None:
            overlap_left -= 1
        if overlap_left == 0:
            break
    return seen, pages


async def reread_changeable(
    api: ApiSession,
    product_id: int,
    known: dict[int, bool],
    seen: dict[int, ExploratoryTest],
    pages_read: int,
) -> list[ExploratoryTest]:
    """Re-read the stored tests that can still change and were not on the pages read, the
    cheaper way (`test_reread.py`): more pages, ids, or both. Adds page finds to `seen`;
    returns the tests read by id."""
    missing = [tid for tid, final in known.items() if not final and tid not in seen]
    new_ahead = sum(1 for tid in seen if tid not in known)
    plan = plan_reread(known, missing, new_ahead, pages_read, api.page_size)
    if plan.last_page > pages_read:
        for test in await api.test_page_range(product_id, pages_read + 1, plan.last_page):
            seen.setdefault(test.id, test)
    # The plan's ids, and any test the extra pages should have shown but did not.
    to_reread = [tid for tid in missing if tid not in seen]
    reread = await asyncio.gather(*(api.get_test(tid, product_id) for tid in to_reread))
    vanished = [tid for tid, test in zip(to_reread, reread, strict=True) if test is None]
    if vanished:
        log.warning(
            "product %d: %d stored test(s) no longer answer (404), kept as they were: %s",
            product_id,
            len(vanished),
            vanished[:20],
        )
    return [test for test in reread if test is not None]


async def sync_tests(
    session: ApiSession,
    db: StoreSession,
    product_id: int,
    now: datetime,
    full_listing: bool = False,
) -> StepReport:
    """Read what is new or can still change, and merge it into `tests`. With
    `full_listing` (or nothing stored yet) every page is read."""
    started = time.monotonic()
    api = session.scoped()
    known = await db.read(partial(stored_tests, product_id=product_id))
    full = full_listing or not known
    seen, pages_read = await read_new_tests(api, product_id, set() if full else set(known))
    reread = await reread_changeable(api, product_id, known, seen, pages_read)
    fresh = list(seen.values()) + reread
    skipped = skipped_rows(product_id, TESTS, api.stats.skipped_records(), now)
    counts = await db.write_batched(
        write_tests, TestsWrite(product_id, test_rows(product_id, fresh, now), skipped)
    )
    report = StepReport(
        counts=counts,
        seconds=time.monotonic() - started,
        listing=Listing(frozenset(seen), full),
    )
    report.add_stats(api.stats)
    report.extra = {
        "tests_new": sum(1 for t in fresh if t.id not in known),
        "tests_refreshed": sum(1 for t in fresh if t.id in known),
        "tests_skipped_final": sum(1 for tid, final in known.items() if final and tid not in seen),
    }
    return report
