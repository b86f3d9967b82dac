"""Writes: each function is one transaction's worth of SQL for one table (or two).

The per-product writers take a batch of products (see `StoreSession.write_batched`): the
rows of all of them are staged as one Arrow table and merged with a handful of bulk
statements (`merge.py`), and each product gets its own counts back, in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.store.merge import (
    IN_PRODUCTS,
    WHOLE_TABLE,
    WriteCounts,
    change_counted,
    merge,
)
from testio_assets.store.sql import run


def write_products(conn: DuckDBPyConnection, staged: pa.Table) -> WriteCounts:
    """Upsert the catalogue; products missing upstream are marked inactive, never deleted.

    A product that comes back is active again. Deactivations count as updates.
    """
    counts = merge(conn, "products", staged, ["id"], keep=["first_seen_at", "features_synced_at"])[
        WHOLE_TABLE
    ]
    conn.register("listed_products", staged.select(["id"]))
    try:
        vanished = "is_active AND id NOT IN (SELECT id FROM listed_products)"
        deactivated = change_counted(conn, "is_active = false", "products", vanished).total()
    finally:
        conn.unregister("listed_products")
    return replace(counts, updated=counts.updated + deactivated)


@dataclass(frozen=True)
class TestsWrite:
    """The tests read for one product (tests are never deleted: no signal for it), and the
    records that had to be left out (`skipped_records` rows)."""

    product_id: int
    staged: pa.Table
    skipped: pa.Table


def write_tests(conn: DuckDBPyConnection, writes: Sequence[TestsWrite]) -> list[WriteCounts]:
    counts = merge(conn, "tests", _concat(w.staged for w in writes), ["id"], products=_ids(writes))
    replace_skipped(conn, "tests", writes)
    return [counts[w.product_id] for w in writes]


def replace_skipped(
    conn: DuckDBPyConnection, asset: str, writes: Sequence[TestsWrite | BugsWrite]
) -> None:
    """The writes' skipped records replace what the products' last sync of `asset` left."""
    run(
        conn,
        f"DELETE FROM skipped_records WHERE asset = $asset AND {IN_PRODUCTS}",
        {"asset": asset, "products": _ids(writes)},
    )
    skipped = _concat(w.skipped for w in writes)
    if len(skipped):
        conn.register("new_skipped", skipped)
        try:
            run(conn, "INSERT INTO skipped_records SELECT * FROM new_skipped")
        finally:
            conn.unregister("new_skipped")


@dataclass(frozen=True)
class BugsWrite:
    """The bugs read for `test_ids` of one product: they replace those tests' bugs."""

    product_id: int
    test_ids: Sequence[int]
    staged: pa.Table
    synced_at: datetime
    skipped: pa.Table


def write_bugs(conn: DuckDBPyConnection, writes: Sequence[BugsWrite]) -> list[WriteCounts]:
    """Replace the bugs of each write's tests and record on each test when they were read."""
    synced = pa.table(
        {
            "id": pa.array([t for w in writes for t in w.test_ids], pa.int64()),
            "synced_at": pa.array(
                [w.synced_at for w in writes for _ in w.test_ids], pa.timestamp("us", "UTC")
            ),
        }
    )
    staged = _concat(w.staged for w in writes)
    conn.register("synced_tests", synced)
    conn.register("fetched_bugs", staged.select(["id"]))
    try:
        removed = change_counted(
            conn,
            "DELETE",
            "bugs",
            "test_id IN (SELECT id FROM synced_tests) AND id NOT IN (SELECT id FROM fetched_bugs)",
            group="product_id",
        )
        counts = merge(conn, "bugs", staged, ["id"], products=_ids(writes))
        run(
            conn,
            "UPDATE tests SET bugs_synced_at = s.synced_at, bugs_synced_final = tests.is_final "
            "FROM synced_tests s WHERE tests.id = s.id",
        )
    finally:
        conn.unregister("synced_tests")
        conn.unregister("fetched_bugs")
    replace_skipped(conn, "bugs", writes)
    return [replace(counts[w.product_id], removed=removed[w.product_id]) for w in writes]


@dataclass(frozen=True)
class FeaturesWrite:
    """A product's whole feature catalogue: it replaces the stored one."""

    product_id: int
    features: pa.Table
    stories: pa.Table
    synced_at: datetime


def write_features(
    conn: DuckDBPyConnection, writes: Sequence[FeaturesWrite]
) -> list[tuple[WriteCounts, WriteCounts]]:
    """Replace each product's features and stories; stamp `products.features_synced_at`."""
    products = _ids(writes)
    features = merge(
        conn,
        "features",
        _concat(w.features for w in writes),
        ["id"],
        products=products,
        remove_missing=True,
    )
    stories = merge(
        conn,
        "user_stories",
        _concat(w.stories for w in writes),
        ["feature_id", "ordinal"],
        products=products,
        remove_missing=True,
    )
    conn.register("synced_products", _stamps(writes))
    try:
        run(
            conn,
            "UPDATE products SET features_synced_at = s.synced_at "
            "FROM synced_products s WHERE products.id = s.product_id",
        )
    finally:
        conn.unregister("synced_products")
    return [(features[w.product_id], stories[w.product_id]) for w in writes]


USERS_SQL = """
WITH testers AS (
    SELECT product_id, author_name AS name, reported_at AS event_at,
           1 AS bugs, 0 AS comments, 0 AS repros
    FROM bugs WHERE product_id IN (SELECT product_id FROM rebuilt) AND author_name IS NOT NULL
    UNION ALL
    SELECT product_id, c.author_name, c.created_at, 0, 1, 0
    FROM (SELECT product_id, unnest(comments) AS c FROM bugs
          WHERE product_id IN (SELECT product_id FROM rebuilt))
    WHERE c.author_name IS NOT NULL
    UNION ALL
    SELECT product_id, r, reported_at, 0, 0, 1
    FROM (SELECT product_id, unnest(reproduction_authors) AS r, reported_at FROM bugs
          WHERE product_id IN (SELECT product_id FROM rebuilt))
    WHERE r IS NOT NULL
), customers AS (
    SELECT product_id, created_by AS name, coalesce(start_at, end_at) AS event_at,
           1 AS created, 0 AS submitted
    FROM tests WHERE product_id IN (SELECT product_id FROM rebuilt) AND created_by IS NOT NULL
    UNION ALL
    SELECT product_id, submitted_by, coalesce(end_at, start_at), 0, 1
    FROM tests WHERE product_id IN (SELECT product_id FROM rebuilt) AND submitted_by IS NOT NULL
), people AS (
    SELECT product_id, name, 'tester' AS role,
           min(event_at) AS first_activity_at, max(event_at) AS last_activity_at,
           sum(bugs)::INTEGER AS bugs_reported, sum(comments)::INTEGER AS comments_written,
           sum(repros)::INTEGER AS reproductions, 0 AS tests_created, 0 AS tests_submitted
    FROM testers GROUP BY product_id, name
    UNION ALL
    SELECT product_id, name, 'customer', min(event_at), max(event_at), 0, 0, 0,
           sum(created)::INTEGER, sum(submitted)::INTEGER
    FROM customers GROUP BY product_id, name
)
SELECT people.*, rebuilt.synced_at FROM people JOIN rebuilt USING (product_id)
"""


@dataclass(frozen=True)
class UsersWrite:
    """Rebuild a product's users from its stored tests and bugs."""

    product_id: int
    synced_at: datetime


def write_users(conn: DuckDBPyConnection, writes: Sequence[UsersWrite]) -> list[WriteCounts]:
    """Derive people from the stored tests and bugs with SQL (no API calls). Always from
    what is stored, whatever this run changed: a run that died between its bug write and
    its users rebuild, or another process's, leaves nothing behind this way."""
    conn.register("rebuilt", _stamps(writes))
    try:
        staged = conn.sql(USERS_SQL).to_arrow_table()
    finally:
        conn.unregister("rebuilt")
    counts = merge(
        conn,
        "users",
        staged,
        ["product_id", "name", "role"],
        products=_ids(writes),
        remove_missing=True,
    )
    return [counts[w.product_id] for w in writes]


def _ids(writes: Iterable[TestsWrite | BugsWrite | FeaturesWrite | UsersWrite]) -> list[int]:
    return list(dict.fromkeys(w.product_id for w in writes))


def _concat(tables: Iterable[pa.Table]) -> pa.Table:
    return pa.concat_tables(list(tables))


def _stamps(writes: Sequence[FeaturesWrite | UsersWrite]) -> pa.Table:
    return pa.table(
        {
            "product_id": pa.array([w.product_id for w in writes], pa.int64()),
            "synced_at": pa.array([w.synced_at for w in writes], pa.timestamp("us", "UTC")),
        }
    )
