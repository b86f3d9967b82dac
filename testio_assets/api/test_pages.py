"""Reading a product's tests page by page, and isolating a record that poisons its page.

The API lists tests newest first. Without `page` it silently returns only the last 150,
so `page` is always sent, and paging stops at the first empty or short page. A page that
keeps answering 5xx is read again in smaller pages (25 -> 5 -> 1) until the one test that
fails is found; that test is skipped and reported, the rest of the product is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from testio_assets.api.errors import ApiRequestError
from testio_assets.api.models import ExploratoryTest
from testio_assets.api.stats import SkippedRecord

if TYPE_CHECKING:
    from testio_assets.api.session import ApiSession

log = logging.getLogger("testio_assets.api")


async def read_pages(session: ApiSession, product_id: int) -> AsyncIterator[list[ExploratoryTest]]:
    """Every page of the product's tests, newest first, until an empty or short page."""
    size = session.page_size
    page = 1
    while True:
        tests, raw_count = await _page_or_split(session, product_id, page, size)
        yield tests
        if raw_count < size:
            return
        page += 1


async def read_page_range(
    session: ApiSession, product_id: int, first: int, last: int
) -> list[ExploratoryTest]:
    """Pages `first`..`last` of the product's tests, requested concurrently, in order."""
    size = session.page_size
    pages = await asyncio.gather(
        *(_page_or_split(session, product_id, page, size) for page in range(first, last + 1))
    )
    return [test for tests, _ in pages for test in tests]


async def _page_or_split(
    session: ApiSession, product_id: int, page: int, size: int
) -> tuple[list[ExploratoryTest], int]:
    """(valid tests, records the API sent) of one page; a failing page is split."""
    try:
        parsed = await session.test_page(product_id, page, size)
        return parsed.result, parsed.sent
    except ApiRequestError as exc:
        if exc.status_code is None or exc.status_code < 500:
            raise
        if size == 1:
            _skip_poisoned(session, product_id, page, exc)
            return [], 1
    sub = largest_proper_divisor(size)
    first = (page - 1) * (size // sub) + 1
    tests: list[ExploratoryTest] = []
    raw_total = 0
    for sub_page in range(first, first + size // sub):
        part, raw = await _page_or_split(session, product_id, sub_page, sub)
        tests.extend(part)
        raw_total += raw
        if raw < sub:
            break
    return tests, raw_total


def _skip_poisoned(
    session: ApiSession, product_id: int, position: int, exc: ApiRequestError
) -> None:
    endpoint = f"/products/{product_id}/exploratory_tests?page={position}&per_page=1"
    session.stats.skipped.append(
        SkippedRecord(endpoint, f"record at position {position} always fails: {exc.detail}")
    )
    log.warning(
        "skipped the test at position %d of product %d: every read of it fails (%s)",
        position,
        product_id,
        exc.detail,
    )


def largest_proper_divisor(n: int) -> int:
    """The page size a failing page of `n` is split into (1 for a prime)."""
    for factor in range(2, int(n**0.5) + 1):
        if n % factor == 0:
            return n // factor
    return 1
