"""`features`: a product's feature catalogue with user stories, kept within a TTL."""

from __future__ import annotations

import time
from datetime import datetime

from duckdb import DuckDBPyConnection

from testio_assets.api.client import ApiSession
from testio_assets.api.models import Product
from testio_assets.assets.report import StepReport
from testio_assets.store.rows import feature_rows, user_story_rows
from testio_assets.store.session import StoreSession
from testio_assets.store.writers import FeaturesWrite, write_features

DESCRIPTION = """The product's feature catalogue with its user stories.

Sectioned products are read per section (directly when the catalogue says the product
is sectioned, or after the product endpoint answers 422); a feature listed by several
sections is one row carrying all its section ids. Features removed upstream disappear
from the product's rows. Writes `products.features_synced_at` in the same transaction.
Kept fresh by `stale_features_sensor` within `FEATURE_CACHE_TTL_SECONDS`."""


def stored_product(conn: DuckDBPyConnection, product_id: int) -> Product:
    """The product as the catalogue stored it (sections included), or a bare id."""
    rows = conn.execute(
        "SELECT id, name, sections FROM products WHERE id = ?", [product_id]
    ).fetchall()
    if not rows:
        return Product(id=product_id)
    product_id, name, sections = rows[0]
    return Product(id=product_id, name=name, sections=sections or [])


def products_with_fresh_features(conn: DuckDBPyConnection, synced_after: datetime) -> set[int]:
    """Products whose features were synced after `synced_after`."""
    rows = conn.execute(
        "SELECT id FROM products WHERE features_synced_at > ?", [synced_after]
    ).fetchall()
    return {int(row[0]) for row in rows}


async def sync_features(
    session: ApiSession, db: StoreSession, product_id: int, now: datetime
) -> StepReport:
    started = time.monotonic()
    api = session.scoped()
    product = await db.read(lambda conn: stored_product(conn, product_id))
    catalogue = await api.product_features(product)
    features = feature_rows(product_id, catalogue.features, catalogue.section_ids, now)
    stories = user_story_rows(product_id, catalogue.features, now)
    feature_counts, story_counts = await db.write_batched(
        write_features, FeaturesWrite(product_id, features, stories, now)
    )
    report = StepReport(
        counts=feature_counts,
        extra={"user_stories": story_counts.rows, "sectioned": int(catalogue.sectioned)},
    )
    report.add_stats(api.stats)
    report.seconds = time.monotonic() - started
    return report
