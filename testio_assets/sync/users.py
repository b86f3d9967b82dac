"""The `users` step: everyone a product's data names, derived with SQL (no API calls)."""

from __future__ import annotations

import time
from datetime import datetime

from testio_assets.store.session import StoreSession
from testio_assets.store.writers import UsersWrite, write_users
from testio_assets.sync.report import StepReport

GROUP_SIZE = 32  # products whose users are rebuilt together


class UserGroups:
    """Collects products whose tests and bugs are done into groups for one users rebuild.

    One rebuild statement for many products costs little more than one for a single
    product, and nothing waits for users. A group is released when it is full or when no
    chain is left to join it.
    """

    def __init__(self, chains: int, size: int = GROUP_SIZE) -> None:
        self._chains_left = chains
        self._size = size
        self._waiting: list[int] = []

    def chain_ended(self, product_id: int, ready: bool) -> list[int]:
        """Note a product's chain has ended (`ready`: its users can be rebuilt); returns the
        group to rebuild now, if any (else an empty list)."""
        self._chains_left -= 1
        if ready:
            self._waiting.append(product_id)
        if self._waiting and (len(self._waiting) >= self._size or self._chains_left == 0):
            group, self._waiting = self._waiting, []
            return group
        return []


async def sync_users(db: StoreSession, product_id: int, now: datetime) -> StepReport:
    """Rebuild the product's users from its stored tests and bugs."""
    started = time.monotonic()
    counts = await db.write_batched(write_users, UsersWrite(product_id, now))
    return StepReport(counts=counts, seconds=time.monotonic() - started)
