"""Checks run on their own ("Execute checks" in the UI): on what is stored, no sync.

Only the completeness checks need the API: they read the product's whole listing (every
page of tests, or the feature catalogue) and compare it with what is stored. Every other
check reads DuckDB alone.
"""

from __future__ import annotations

import time
from functools import partial

from testio_assets.api.models import Product
from testio_assets.api.session import ApiSession
from testio_assets.checks.definitions import checks_of
from testio_assets.checks.evaluate import Listing
from testio_assets.checks.run import CheckPlan, product_checks
from testio_assets.names import FEATURES, TESTS
from testio_assets.store.queries import stored_product
from testio_assets.store.session import StoreSession
from testio_assets.sync.report import StepReport
from testio_assets.sync.tests import read_new_tests


async def api_listing(
    api: ApiSession, db: StoreSession, asset: str, product_id: int
) -> Listing | None:
    """The product's whole listing of `asset` from the API (None: nothing to list)."""
    if asset == TESTS:
        tests, _ = await read_new_tests(api, product_id, known=set())
        return Listing(frozenset(tests), full=True)
    if asset == FEATURES:
        name, sections = await db.read(partial(stored_product, product_id=product_id))
        catalogue = await api.product_features(Product(id=product_id, name=name, sections=sections))
        return Listing(frozenset(f.id for f in catalogue.features), full=True)
    return None


async def check_stored(
    session: ApiSession, db: StoreSession, asset: str, product_id: int, plan: CheckPlan
) -> StepReport:
    """The selected checks of `asset` for one product, without syncing it."""
    started = time.monotonic()
    api = session.scoped()
    wanted = plan.of(asset)
    needs_api = any(c.needs_api and c.name in wanted for c in checks_of(asset))
    listing = await api_listing(api, db, asset, product_id) if needs_api else None
    report = StepReport(materialized=False, listing=listing)
    report.checks = await product_checks(db, asset, product_id, listing, plan)
    report.add_stats(api.stats)
    report.seconds = time.monotonic() - started
    return report
