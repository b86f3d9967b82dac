"""A refresh re-reads the changeable tests the cheaper way: more pages, ids, or both."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from testio_assets.simulator.profiles import Profile
from testio_assets.simulator.server import SimulatorServer
from testio_assets.sync.test_reread import RereadPlan, plan_reread
from tests.pipeline_helpers import pipeline_for, query, sync
from tools.bench.baselines import needed_for_refresh

PAGE = 25
STORED = range(1, 201)  # 200 tests, ids grow with time: 200 is the newest (page 1)


def test_changeable_tests_that_are_the_newest_are_read_by_id() -> None:
    # Two pages read (ids 151-200); changeable: one on page 3, one on page 5.
    plan = plan_reread(STORED, [150, 100], new_ahead=0, pages_read=2, page_size=PAGE)
    assert plan.last_page == 2 and sorted(plan.by_id) == [100, 150]
    # Two on the next page: one page is cheaper than two ids.
    assert plan_reread(STORED, [150, 149], 0, 2, PAGE) == RereadPlan(3, [])


def test_changeable_tests_spread_through_history_are_read_by_page() -> None:
    missing = [t for t in range(1, 151) if t % 4 == 0]  # 37 tests on pages 3-8
    plan = plan_reread(STORED, missing, new_ahead=0, pages_read=2, page_size=PAGE)
    assert plan.last_page == 8 and plan.by_id == []
    assert plan.requests(2) == 6 < len(missing)


def test_a_dense_recent_stretch_by_page_and_a_straggler_by_id() -> None:
    missing = [*range(126, 151), 3]  # all of page 3, and one test on page 8
    plan = plan_reread(STORED, missing, new_ahead=0, pages_read=2, page_size=PAGE)
    assert plan.last_page == 3 and plan.by_id == [3]


def test_new_tests_push_stored_ones_down_the_pages() -> None:
    # 25 new tests ahead: test 150 (rank 50) is at position 75, page 4.
    plan = plan_reread(STORED, [150, 149, 148, 147], new_ahead=25, pages_read=3, page_size=PAGE)
    assert plan.last_page == 4 and plan.by_id == []


SCATTERED = Profile(
    products=3,
    tests_per_product=(150, 160),
    bugs_per_test=(0, 2),
    features_per_product=(3, 5),
    sectioned_share=0.0,
    final_share=0.75,
    changeable_anywhere=True,
)


def test_a_refresh_of_scattered_changeable_tests_reads_pages_and_stays_exact(
    db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimulatorServer(SCATTERED, seed=5) as server:
        defs = pipeline_for(server, db, monkeypatch, page_size=PAGE)
        assert sync(defs, instance).failure is None
        changeable = sum(
            1 for p in server.account.active_products() for t in p.tests if t.can_change
        )
        server.app.reset_counts()
        summary = sync(defs, instance)
        tests_requests = server.requests["exploratory_tests"] + server.requests["exploratory_test"]
        allowed = needed_for_refresh(server.account, PAGE, 15)
        # Whole refresh within what the cheaper plan allows; test reads far under one
        # request per changeable test (what reading them by id cost before).
        assert summary.requests - 1 <= allowed
        assert tests_requests < changeable / 2
        server.advance(5)  # statuses move anywhere in history
        assert sync(defs, instance).failure is None
        truth = {t.id: t.status for p in server.account.active_products() for t in p.tests}
        assert dict(query(db, "SELECT id, status FROM tests")) == truth
