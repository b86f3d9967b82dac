"""Reads for the on-demand commands (`testio-assets features` and `users`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from duckdb import DuckDBPyConnection

from testio_assets.store.sql import dict_rows


@dataclass(frozen=True)
class ProductState:
    """What the catalogue knows of one product."""

    product_id: int
    name: str | None
    is_active: bool
    section_ids: list[int]
    features_synced_at: datetime | None


def product_state(conn: DuckDBPyConnection, product_id: int) -> ProductState | None:
    rows = conn.execute(
        "SELECT name, is_active, [s.id FOR s IN coalesce(sections, [])], features_synced_at "
        "FROM products WHERE id = ?",
        [product_id],
    ).fetchall()
    if not rows:
        return None
    name, active, sections, synced = rows[0]
    return ProductState(product_id, name, bool(active), [int(s) for s in sections], synced)


def known_product_ids(conn: DuckDBPyConnection, limit: int = 20) -> list[int]:
    """Some product ids of the catalogue (active first), to name in an error message."""
    rows = conn.execute(
        "SELECT id FROM products ORDER BY is_active DESC, id LIMIT ?", [limit]
    ).fetchall()
    return [int(row[0]) for row in rows]


def features_of(
    conn: DuckDBPyConnection, product_id: int, section_id: int | None
) -> list[dict[str, Any]]:
    """The product's features (in one section if given), each with its user stories."""
    cursor = conn.execute(
        """
        SELECT f.id, f.title, f.description, f.howtofind, f.location, f.section_ids,
               f.user_story_count,
               coalesce(list(s.title ORDER BY s.ordinal) FILTER (WHERE s.id IS NOT NULL), [])
                   AS user_stories
        FROM features f LEFT JOIN user_stories s ON s.feature_id = f.id
        WHERE f.product_id = $product
          AND ($section IS NULL OR list_contains(f.section_ids, $section))
        GROUP BY ALL ORDER BY f.id
        """,
        {"product": product_id, "section": section_id},
    )
    return dict_rows(cursor)


def users_of(conn: DuckDBPyConnection, product_id: int, role: str | None) -> list[dict[str, Any]]:
    """The people the product's tests and bugs name (testers and customer users)."""
    cursor = conn.execute(
        """
        SELECT name, role, bugs_reported, comments_written, reproductions, tests_created,
               tests_submitted, first_activity_at, last_activity_at, synced_at
        FROM users WHERE product_id = $product AND ($role IS NULL OR role = $role)
        ORDER BY role DESC, bugs_reported + tests_created DESC, name
        """,
        {"product": product_id, "role": role},
    )
    return dict_rows(cursor)
