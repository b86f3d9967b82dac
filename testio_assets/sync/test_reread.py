"""Choosing how a refresh re-reads the stored tests that can still change.

After the newest pages (`tests.read_new_tests`), a stored test that can still change and
was not on them is re-read either by id (one request each) or by reading more pages
(one request per page of `page_size` tests, newest first). When the changeable tests are
the newest, a few ids are cheapest; when they are spread through years of history (tests
left `locked` for months), reading further pages is. The plan takes, per product, the
cheapest mix: pages up to some page P, then ids for the changeable tests beyond P.

Positions come from what is stored: the listing is newest first, stored tests are ranked
by id (ids grow with time), behind the tests that are new in this run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RereadPlan:
    """Read pages up to `last_page` (none if it is the pages already read), then `by_id`."""

    last_page: int
    by_id: list[int]

    def requests(self, pages_read: int) -> int:
        return max(0, self.last_page - pages_read) + len(self.by_id)


def plan_reread(
    stored: Iterable[int],
    missing: Collection[int],
    new_ahead: int,
    pages_read: int,
    page_size: int,
) -> RereadPlan:
    """The cheapest way to see every test in `missing` (stored, changeable, not on the
    pages read). `stored`: every stored test id of the product; `new_ahead`: tests new in
    this run, listed before all stored ones."""
    if not missing:
        return RereadPlan(pages_read, [])
    newest_first = sorted(stored, reverse=True)
    wanted = set(missing)
    page_of = {
        tid: (new_ahead + rank) // page_size + 1
        for rank, tid in enumerate(newest_first)
        if tid in wanted
    }
    by_page = sorted(page_of.items(), key=lambda item: item[1])
    best = RereadPlan(pages_read, [tid for tid, _ in by_page])
    for index, (_, page) in enumerate(by_page):
        if page <= pages_read:
            continue
        candidate = RereadPlan(page, [tid for tid, p in by_page[index:] if p > page])
        if candidate.requests(pages_read) < best.requests(pages_read):
            best = candidate
    unknown = [tid for tid in missing if tid not in page_of]  # not stored: ask by id
    return RereadPlan(best.last_page, best.by_id + unknown)
