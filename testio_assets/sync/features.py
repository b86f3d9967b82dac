"""The `features` step: a product's feature catalogue with user stories."""

from __future__ import annotations

import time
from datetime import datetime
from functools import partial

from testio_assets.api.models import Product
from testio_assets.api.session import ApiSession
from testio_assets.checks.evaluate import Listing
from testio_assets.store.queries import stored_product
from testio_assets.store.rows import feature_rows, user_story_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import FeaturesWrite, write_features
from testio_assets.sync.report import StepReport


async def sync_features(
    session: ApiSession, db: StoreSession, product_id: int, now: datetime
) -> StepReport:
    """Read the whole catalogue (per section where needed) and replace the stored one."""
    started = time.monotonic()
    api = session.scoped()
    name, sections = await db.read(partial(stored_product, product_id=product_id))
    catalogue = await api.product_features(Product(id=product_id, name=name, sections=sections))
    features = feature_rows(product_id, catalogue.features, catalogue.section_ids, now)
    stories = user_story_rows(product_id, catalogue.features, now)
    feature_counts, story_counts = await db.write_batched(
        write_features, FeaturesWrite(product_id, features, stories, now)
    )
    report = StepReport(
        counts=feature_counts,
        extra={"user_stories": story_counts.rows, "sectioned": int(catalogue.sectioned)},
        seconds=time.monotonic() - started,
        listing=Listing(frozenset(f.id for f in catalogue.features), full=True),
    )
    report.add_stats(api.stats)
    return report
