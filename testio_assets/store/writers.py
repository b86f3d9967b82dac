"""Per-partition writes: each function is one transaction's worth of SQL.

Rows are staged as an Arrow table and merged with one `INSERT ... ON CONFLICT` (bulk,
never a Python loop of inserts). Every writer reports how many rows it created, updated
(content changed, bookkeeping timestamps aside) and removed, so the UI can plot change.
Table and column names in the SQL come from `schema.py`; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.store.schema import BOOKKEEPING
from testio_assets.store.sql import run

STAGED = "staged_rows"


@dataclass(frozen=True)
class WriteCounts:
    """What one write did to one table for one product."""

    created: int = 0
    updated: int = 0
    removed: int = 0
    rows: int = 0  # rows the product has in the table afterwards

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def _affected(conn: DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    """Run an UPDATE/DELETE ending in `RETURNING 1`; returns how many rows it touched."""
    return len(conn.execute(sql, list(params)).fetchall())


def merge(
    conn: DuckDBPyConnection,
    table: str,
    staged: pa.Table,
    key: Sequence[str],
    *,
    product_id: int | None = None,
    remove_missing: bool = False,
    keep: Iterable[str] = (),
) -> WriteCounts:
    """Upsert `staged` into `table` by `key`.

    Args:
        product_id: the partition being written; required for `remove_missing`.
        remove_missing: delete the product's rows that are not in `staged`.
        keep: columns the upsert must not overwrite on existing rows.
    """
    conn.register(STAGED, staged)
    try:
        columns = staged.column_names
        on_key = " AND ".join(f"t.{k} = s.{k}" for k in key)
        content = [c for c in columns if c not in key and c not in BOOKKEEPING]
        content_differs = (
            f"ROW({', '.join('s.' + c for c in content)}) IS DISTINCT FROM "
            f"ROW({', '.join('t.' + c for c in content)})"
            if content
            else "false"
        )
        # Only the partition's rows are compared: a filter on product_id lets DuckDB skip
        # the other products' row groups instead of scanning the whole table per write.
        scope, params = (
            ("WHERE product_id = ?", [product_id]) if product_id is not None else ("", [])
        )
        created, updated, before = conn.execute(
            f"SELECT count(*) FILTER (WHERE t.{key[0]} IS NULL), "
            f"count(*) FILTER (WHERE t.{key[0]} IS NOT NULL AND {content_differs}), "
            f"(SELECT count(*) FROM {table} {scope}) "
            f"FROM {STAGED} s LEFT JOIN (SELECT * FROM {table} {scope}) t ON {on_key}",
            params * 2,
        ).fetchall()[0]
        removed = 0
        if remove_missing:
            removed = _affected(
                conn,
                f"DELETE FROM {table} t WHERE t.product_id = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {STAGED} s WHERE {on_key}) RETURNING 1",
                [product_id],
            )
        column_list = ", ".join(columns)
        if created:
            # New rows: a plain insert (no conflict handling) is twice as fast.
            run(
                conn,
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {STAGED} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM (SELECT * FROM {table} {scope}) t "
                f"WHERE {on_key})",
                params,
            )
        if updated:
            overwrite = [c for c in columns if c not in key and c not in set(keep)]
            run(
                conn,
                f"INSERT INTO {table} ({column_list}) "
                f"SELECT {', '.join('s.' + c for c in columns)} "
                f"FROM {STAGED} s JOIN (SELECT * FROM {table} {scope}) t ON {on_key} "
                f"WHERE {content_differs} ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in overwrite),
                params,
            )
        bookkeeping = [c for c in columns if c in BOOKKEEPING and c not in set(keep)]
        if bookkeeping and len(staged) > created + updated:
            # Unchanged rows were confirmed by the API just now: move their timestamps only.
            run(
                conn,
                f"UPDATE {table} t SET "
                + ", ".join(f"{c} = s.{c}" for c in bookkeeping)
                + f" FROM {STAGED} s WHERE {on_key}"
                + (" AND t.product_id = ?" if product_id is not None else ""),
                params,
            )
    finally:
        conn.unregister(STAGED)
    return WriteCounts(created, updated, removed, before + created - removed)


def write_products(conn: DuckDBPyConnection, staged: pa.Table) -> WriteCounts:
    """Upsert the catalogue; products missing upstream are marked inactive, never deleted.

    A product that comes back is active again. Deactivations count as updates.
    """
    counts = merge(conn, "products", staged, ["id"], keep=["first_seen_at", "features_synced_at"])
    conn.register("listed_products", staged.select(["id"]))
    try:
        vanished = "is_active AND id NOT IN (SELECT id FROM listed_products)"
        deactivated = _affected(
            conn, f"UPDATE products SET is_active = false WHERE {vanished} RETURNING 1"
        )
    finally:
        conn.unregister("listed_products")
    return WriteCounts(counts.created, counts.updated + deactivated, 0, counts.rows)


def write_tests(conn: DuckDBPyConnection, product_id: int, staged: pa.Table) -> WriteCounts:
    """Upsert the tests read for one product (tests are never deleted: no signal for it)."""
    return merge(conn, "tests", staged, ["id"], product_id=product_id)


def write_bugs(
    conn: DuckDBPyConnection,
    product_id: int,
    test_ids: Sequence[int],
    staged: pa.Table,
    now: datetime,
) -> WriteCounts:
    """Replace the bugs of `test_ids` and record on each test when its bugs were read."""
    conn.register("synced_tests", pa.table({"id": pa.array(test_ids, pa.int64())}))
    conn.register("fetched_bugs", staged.select(["id"]))
    try:
        gone = (
            "test_id IN (SELECT id FROM synced_tests) AND id NOT IN (SELECT id FROM fetched_bugs)"
        )
        removed = _affected(conn, f"DELETE FROM bugs WHERE {gone} RETURNING 1")
        counts = merge(conn, "bugs", staged, ["id"], product_id=product_id)
        run(
            conn,
            "UPDATE tests SET bugs_synced_at = ?, bugs_synced_final = is_final "
            "WHERE id IN (SELECT id FROM synced_tests)",
            [now],
        )
    finally:
        conn.unregister("synced_tests")
        conn.unregister("fetched_bugs")
    return WriteCounts(counts.created, counts.updated, removed, counts.rows)


def write_features(
    conn: DuckDBPyConnection, product_id: int, features: pa.Table, stories: pa.Table, now: datetime
) -> tuple[WriteCounts, WriteCounts]:
    """Replace a product's feature catalogue and stamp `products.features_synced_at`."""
    feature_counts = merge(
        conn, "features", features, ["id"], product_id=product_id, remove_missing=True
    )
    story_counts = merge(
        conn,
        "user_stories",
        stories,
        ["feature_id", "ordinal"],
        product_id=product_id,
        remove_missing=True,
    )
    run(conn, "UPDATE products SET features_synced_at = ? WHERE id = ?", [now, product_id])
    return feature_counts, story_counts


USERS_SQL = """
WITH testers AS (
    SELECT author_name AS name, reported_at AS event_at, 1 AS bugs, 0 AS comments, 0 AS repros
    FROM bugs WHERE product_id = $product AND author_name IS NOT NULL
    UNION ALL
    SELECT c.author_name, c.created_at, 0, 1, 0
    FROM (SELECT unnest(comments) AS c FROM bugs WHERE product_id = $product)
    WHERE c.author_name IS NOT NULL
    UNION ALL
    SELECT r, reported_at, 0, 0, 1
    FROM (SELECT unnest(reproduction_authors) AS r, reported_at FROM bugs
          WHERE product_id = $product)
    WHERE r IS NOT NULL
), customers AS (
    SELECT created_by AS name, coalesce(start_at, end_at) AS event_at, 1 AS created, 0 AS submitted
    FROM tests WHERE product_id = $product AND created_by IS NOT NULL
    UNION ALL
    SELECT submitted_by, coalesce(end_at, start_at), 0, 1
    FROM tests WHERE product_id = $product AND submitted_by IS NOT NULL
)
SELECT $product::BIGINT AS product_id, name, 'tester' AS role,
       min(event_at) AS first_activity_at, max(event_at) AS last_activity_at,
       sum(bugs)::INTEGER AS bugs_reported, sum(comments)::INTEGER AS comments_written,
       sum(repros)::INTEGER AS reproductions, 0 AS tests_created, 0 AS tests_submitted,
       $now::TIMESTAMPTZ AS synced_at
FROM testers GROUP BY name
UNION ALL
SELECT $product::BIGINT, name, 'customer', min(event_at), max(event_at), 0, 0, 0,
       sum(created)::INTEGER, sum(submitted)::INTEGER, $now::TIMESTAMPTZ
FROM customers GROUP BY name
"""


def rebuild_users(conn: DuckDBPyConnection, product_id: int, now: datetime) -> WriteCounts:
    """Derive the product's people from its stored tests and bugs (no API calls)."""
    staged = conn.sql(USERS_SQL, params={"product": product_id, "now": now}).to_arrow_table()
    return merge(
        conn,
        "users",
        staged,
        ["product_id", "name", "role"],
        product_id=product_id,
        remove_missing=True,
    )
