"""`bugs`: the bugs of a product's tests, read in batches, only where they can change."""

from __future__ import annotations

import time
from datetime import datetime

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.api.client import ApiSession
from testio_assets.assets.report import StepReport
from testio_assets.store.bug_pages import BugPageParser
from testio_assets.store.rows import bug_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import BugsWrite, write_bugs

DESCRIPTION = """Bugs of the product's tests, via `/bugs?filter_test_cycle_ids=` in batches.

Asked for tests never bug-synced and tests that can still change; a test that became
final gets one last read, after which its bugs are never asked for again. Each test
records `bugs_synced_at`."""


def tests_needing_bugs(conn: DuckDBPyConnection, product_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM tests WHERE product_id = ? "
        "AND (bugs_synced_at IS NULL OR NOT coalesce(bugs_synced_final, false)) "
        "ORDER BY id DESC",
        [product_id],
    ).fetchall()
    return [int(r[0]) for r in rows]


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
    session: ApiSession,
    db: StoreSession,
    product_id: int,
    now: datetime,
    parser: BugPageParser,
) -> StepReport:
    started = time.monotonic()
    api = session.scoped()
    test_ids = await db.read(lambda conn: tests_needing_bugs(conn, product_id))
    pages = await api.bug_pages(
        test_ids, product_id, lambda content: parser.parse(content, product_id, now)
    )
    staged = once_per_bug(pages, set(test_ids)) if pages else bug_rows(product_id, [], now)
    counts = await db.write_batched(write_bugs, BugsWrite(product_id, test_ids, staged, now))
    report = StepReport(counts=counts, extra={"tests_bug_synced": len(test_ids)})
    report.add_stats(api.stats)
    report.seconds = time.monotonic() - started
    return report
