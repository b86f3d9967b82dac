"""Reading the bugs of many tests: `/bugs?filter_test_cycle_ids=` in batches, concurrently.

The API does not page `/bugs`; a batch of test ids per call keeps each answer small.
Each batch's body is shaped where it is validated (see `parsing.py`), so a large run can
do that work in a worker process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from testio_assets.api.models import Bug

if TYPE_CHECKING:
    from testio_assets.api.session import ApiSession

ResultT = TypeVar("ResultT")


def batches(test_ids: Sequence[int], size: int) -> list[Sequence[int]]:
    """`test_ids` in consecutive batches of at most `size`."""
    return [test_ids[i : i + size] for i in range(0, len(test_ids), size)]


async def read_batches(
    session: ApiSession,
    test_ids: Sequence[int],
    product_id: int,
    shape: Callable[[list[Any]], ResultT],
) -> list[ResultT]:
    """One `shape(bugs)` per batch of `test_ids`, in batch order."""
    pages = await asyncio.gather(
        *(
            session.get_records(
                "/bugs",
                {"filter_test_cycle_ids": ",".join(str(i) for i in batch)},
                "bugs",
                Bug,
                product_id=product_id,
                shape=shape,
            )
            for batch in batches(test_ids, session.bug_batch_size)
        )
    )
    return [page.result for page in pages]
