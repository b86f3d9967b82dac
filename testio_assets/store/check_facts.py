"""What the asset checks need to know about stored data, per product, in bulk.

Each function takes the products waiting to be checked together (see
`StoreSession.read_batched`) and answers with one result per product, in order, from a
handful of statements whatever the number of products. The checks themselves
(`checks/`) decide what passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.store.merge import IN_PRODUCTS
from testio_assets.store.writers import USERS_SQL

LIMIT = 20  # ids named per problem


@dataclass(frozen=True)
class ProductFacts:
    """What one product's stored rows say about themselves."""

    product_id: int
    ids: frozenset[int] = frozenset()  # stored ids of the checked table
    orphans: tuple[int, ...] = ()  # rows whose parent is missing (up to LIMIT)
    orphan_count: int = 0
    unsectioned: tuple[int, ...] = ()  # sectioned products' features without section ids
    skipped: tuple[str, ...] = ()  # records the last sync left out
    product_known: bool = True
    is_sectioned: bool = False
    features_synced_at: datetime | None = None
    users_differing: tuple[str, ...] = ()  # users not what the tests and bugs derive


def _ids_by_product(
    conn: DuckDBPyConnection, sql: str, products: list[int], **params: object
) -> dict[int, list]:
    found: dict[int, list] = defaultdict(list)
    for product, value in conn.execute(sql, {"products": products, **params}).fetchall():
        found[int(product)].append(value)
    return found


def _products(conn: DuckDBPyConnection, products: list[int]) -> dict[int, tuple]:
    rows = conn.execute(
        "SELECT id, is_sectioned, features_synced_at FROM products "
        "WHERE id IN (SELECT unnest($products))",
        {"products": products},
    ).fetchall()
    return {int(pid): (bool(sectioned), synced) for pid, sectioned, synced in rows}


def _skipped(conn: DuckDBPyConnection, asset: str, products: list[int]) -> dict[int, list]:
    return _ids_by_product(
        conn,
        "SELECT product_id, endpoint || coalesce(' (id ' || record_id || ')', '') || ': ' "
        f"|| reason FROM skipped_records WHERE asset = $asset AND {IN_PRODUCTS} "
        "ORDER BY product_id, seen_at",
        products,
        asset=asset,
    )


def tests_facts(conn: DuckDBPyConnection, products: Sequence[int]) -> list[ProductFacts]:
    """Stored test ids, whether the product exists in the catalogue, skipped records."""
    wanted = list(products)
    ids = _ids_by_product(conn, f"SELECT product_id, id FROM tests WHERE {IN_PRODUCTS}", wanted)
    known = _products(conn, wanted)
    skipped = _skipped(conn, "tests", wanted)
    return [
        ProductFacts(
            pid,
            ids=frozenset(ids[pid]),
            product_known=pid in known,
            skipped=tuple(skipped[pid]),
        )
        for pid in wanted
    ]


def bugs_facts(conn: DuckDBPyConnection, products: Sequence[int]) -> list[ProductFacts]:
    """Bugs whose test is missing, and skipped records."""
    wanted = list(products)
    orphans = _ids_by_product(
        conn,
        f"SELECT b.product_id, b.id FROM bugs b WHERE b.{IN_PRODUCTS} AND b.test_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM tests t WHERE t.id = b.test_id) ORDER BY b.id",
        wanted,
    )
    skipped = _skipped(conn, "bugs", wanted)
    return [
        ProductFacts(
            pid,
            orphans=tuple(orphans[pid][:LIMIT]),
            orphan_count=len(orphans[pid]),
            skipped=tuple(skipped[pid]),
        )
        for pid in wanted
    ]


def features_facts(conn: DuckDBPyConnection, products: Sequence[int]) -> list[ProductFacts]:
    """Stored feature ids, stories whose feature is missing, sectioned products' features
    without section ids, and when the features were synced."""
    wanted = list(products)
    ids = _ids_by_product(conn, f"SELECT product_id, id FROM features WHERE {IN_PRODUCTS}", wanted)
    orphans = _ids_by_product(
        conn,
        f"SELECT s.product_id, s.feature_id FROM user_stories s WHERE s.{IN_PRODUCTS} "
        "AND NOT EXISTS (SELECT 1 FROM features f WHERE f.id = s.feature_id) "
        "ORDER BY s.feature_id",
        wanted,
    )
    unsectioned = _ids_by_product(
        conn,
        f"SELECT f.product_id, f.id FROM features f JOIN products p ON p.id = f.product_id "
        f"WHERE f.{IN_PRODUCTS} AND p.is_sectioned "
        "AND coalesce(len(f.section_ids), 0) = 0 ORDER BY f.id",
        wanted,
    )
    known = _products(conn, wanted)
    return [
        ProductFacts(
            pid,
            ids=frozenset(ids[pid]),
            orphans=tuple(sorted(set(orphans[pid]))[:LIMIT]),
            orphan_count=len(set(orphans[pid])),
            unsectioned=tuple(unsectioned[pid][:LIMIT]),
            is_sectioned=known.get(pid, (False, None))[0],
            features_synced_at=known.get(pid, (False, None))[1],
        )
        for pid in wanted
    ]


def users_facts(conn: DuckDBPyConnection, products: Sequence[int]) -> list[ProductFacts]:
    """Users rows that differ from what the stored tests and bugs derive (either way)."""
    wanted = list(products)
    conn.register(
        "rebuilt",
        pa.table(
            {
                "product_id": pa.array(wanted, pa.int64()),
                "synced_at": pa.array([None] * len(wanted), pa.timestamp("us", "UTC")),
            }
        ),
    )
    columns = (
        "product_id, name, role, first_activity_at, last_activity_at, bugs_reported, "
        "comments_written, reproductions, tests_created, tests_submitted"
    )
    try:
        differing = _ids_by_product(
            conn,
            f"WITH derived AS (SELECT {columns} FROM ({USERS_SQL})), "
            f"stored AS (SELECT {columns} FROM users WHERE {IN_PRODUCTS}) "
            "SELECT product_id, role || ':' || name FROM "
            "((SELECT * FROM derived EXCEPT SELECT * FROM stored) "
            "UNION (SELECT * FROM stored EXCEPT SELECT * FROM derived)) ORDER BY ALL",
            wanted,
        )
    finally:
        conn.unregister("rebuilt")
    return [ProductFacts(pid, users_differing=tuple(differing[pid][:LIMIT])) for pid in wanted]


def catalogue_facts(conn: DuckDBPyConnection) -> tuple[frozenset[int], tuple[int, ...]]:
    """(active product ids, ids of products stored without a name)."""
    active = conn.execute("SELECT id FROM products WHERE is_active").fetchall()
    unnamed = conn.execute(
        "SELECT id FROM products WHERE name IS NULL OR trim(name) = '' ORDER BY id"
    ).fetchall()
    return frozenset(int(r[0]) for r in active), tuple(int(r[0]) for r in unnamed)
