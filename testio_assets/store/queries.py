"""Every read the sync and the commands make, by name. Each takes an open connection."""

from __future__ import annotations

from datetime import datetime

from duckdb import DuckDBPyConnection

from testio_assets.store.tables import TABLES


def inactive_products(conn: DuckDBPyConnection) -> set[int]:
    """Products the catalogue marked inactive (vanished upstream)."""
    rows = conn.execute("SELECT id FROM products WHERE NOT is_active").fetchall()
    return {int(row[0]) for row in rows}


def active_product_ids(conn: DuckDBPyConnection) -> list[int]:
    rows = conn.execute("SELECT id FROM products WHERE is_active ORDER BY id").fetchall()
    return [int(row[0]) for row in rows]


def stored_product(conn: DuckDBPyConnection, product_id: int) -> tuple[str | None, list[dict]]:
    """(name, sections) of a product as the catalogue stored it; (None, []) if unknown."""
    rows = conn.execute("SELECT name, sections FROM products WHERE id = ?", [product_id]).fetchall()
    if not rows:
        return None, []
    name, sections = rows[0]
    return name, sections or []


def products_with_fresh_features(conn: DuckDBPyConnection, synced_after: datetime) -> set[int]:
    """Products whose features were synced after `synced_after`."""
    rows = conn.execute(
        "SELECT id FROM products WHERE features_synced_at > ?", [synced_after]
    ).fetchall()
    return {int(row[0]) for row in rows}


def stored_tests(conn: DuckDBPyConnection, product_id: int) -> dict[int, bool]:
    """Stored test ids of the product -> whether the test is final."""
    rows = conn.execute(
        "SELECT id, is_final FROM tests WHERE product_id = ?", [product_id]
    ).fetchall()
    return {int(test_id): bool(final) for test_id, final in rows}


def tests_needing_bugs(conn: DuckDBPyConnection, product_id: int) -> list[int]:
    """Tests whose bugs were never read, or that could still change when they were."""
    rows = conn.execute(
        "SELECT id FROM tests WHERE product_id = ? "
        "AND (bugs_synced_at IS NULL OR NOT coalesce(bugs_synced_final, false)) "
        "ORDER BY id DESC",
        [product_id],
    ).fetchall()
    return [int(r[0]) for r in rows]


def table_counts(conn: DuckDBPyConnection) -> dict[str, int]:
    """Rows per table."""
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        for table in TABLES
    }
