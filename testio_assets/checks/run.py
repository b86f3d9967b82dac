"""Running a product's checks against the store: facts in bulk, then the verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from testio_assets.checks.definitions import CheckOutcome
from testio_assets.checks.evaluate import (
    Listing,
    bugs_checks,
    features_checks,
    tests_checks,
    users_checks,
)
from testio_assets.names import BUGS, FEATURES, TESTS, USERS
from testio_assets.store.check_facts import bugs_facts, features_facts, tests_facts, users_facts
from testio_assets.store.session import StoreSession
from testio_assets.timings import timed

FACTS = {TESTS: tests_facts, BUGS: bugs_facts, FEATURES: features_facts, USERS: users_facts}


@dataclass(frozen=True)
class CheckPlan:
    """Which checks a run evaluates (asset -> check names), and what freshness means."""

    wanted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    feature_ttl: timedelta = timedelta(hours=1)
    now: datetime | None = None

    def of(self, asset: str) -> frozenset[str]:
        return self.wanted.get(asset, frozenset())


async def product_checks(
    db: StoreSession, asset: str, product_id: int, listing: Listing | None, plan: CheckPlan
) -> list[CheckOutcome]:
    """The selected checks of `asset` for one product, on what is stored now."""
    wanted = plan.of(asset)
    if not wanted:
        return []
    facts = await db.read_batched(FACTS[asset], product_id)
    with timed("checks"):
        if asset == TESTS:
            return tests_checks(facts, listing, wanted)
        if asset == BUGS:
            return bugs_checks(facts, wanted)
        if asset == FEATURES:
            assert plan.now is not None
            return features_checks(facts, listing, wanted, plan.feature_ttl, plan.now)
        return users_checks(facts, wanted)
