"""The `bugs` step: the bugs of a product's tests, read only where they can change."""

from __future__ import annotations

import time
from datetime import datetime
from functools import partial

import pyarrow as pa

from testio_assets.api.session import ApiSession
from testio_assets.names import BUGS
from testio_assets.store.queries import tests_needing_bugs
from testio_assets.store.rows import bug_rows, skipped_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import BugsWrite, write_bugs
from testio_assets.sync.report import StepReport


def once_per_bug(pages: list[pa.Table], wanted: set[int]) -> pa.Table:
    """The pages' rows, each bug once (the first time it appears), leaving out bugs of
    tests that were not asked for."""
    rows = pa.concat_tables(pages)
    seen: set[int] = set()
    keep = []
    tests = rows.column("test_id").to_pylist()
    for index, bug_id in enumerate(rows.column("id").to_pylist()):
        if bug_id not in seen and (tests[index] is None or tests[index] in wanted):
            seen.add(bug_id)
            keep.append(index)
    return rows if len(keep) == len(rows) else rows.take(keep)


async def sync_bugs(
    session: ApiSession, db: StoreSession, product_id: int, now: datetime
) -> StepReport:
    """Read the bugs of tests never bug-synced or still changeable; replace theirs."""
    started = time.monotonic()
    api = session.scoped()
    test_ids = await db.read(partial(tests_needing_bugs, product_id=product_id))
    pages = await api.bug_pages(test_ids, product_id, partial(bug_rows, product_id, now=now))
    staged = once_per_bug(pages, set(test_ids)) if pages else bug_rows(product_id, [], now)
    skipped = skipped_rows(product_id, BUGS, api.stats.skipped_records(), now)
    counts = await db.write_batched(
        write_bugs, BugsWrite(product_id, test_ids, staged, now, skipped)
    )
    report = StepReport(
        counts=counts,
        extra={"tests_bug_synced": len(test_ids)},
        seconds=time.monotonic() - started,
    )
    report.add_stats(api.stats)
    return report
