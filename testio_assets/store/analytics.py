"""Writing the analytics tables (schema `analytics`) for some products, and reading them.

The tables are derived: a product's rows are replaced in one transaction by what the
query (`analytics_sql.py`) computes from the raw tables now, and the counts say how many
rows are new, changed or gone compared with what was there. A table whose columns no
longer match its query (after an upgrade) is rebuilt for every product in the same
transaction: nothing is lost, because everything in it can be computed again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from duckdb import DuckDBPyConnection

from testio_assets.store.analytics_sql import QUERIES, SCHEMA
from testio_assets.store.merge import WriteCounts
from testio_assets.store.sql import dict_rows, run

log = logging.getLogger("testio_assets.store")

# What identifies a row of each table (within the whole table).
KEYS: dict[str, tuple[str, ...]] = {
    "feature_quality": ("product_id", "feature_id"),
    "tester_activity": ("product_id", "tester"),
    "quality_by_month": ("product_id", "month", "testing_type"),
    "quality_by_week": ("product_id", "week", "testing_type"),
    "bugs_by_platform": ("product_id", "operating_system"),
    "product_quality_summary": ("product_id",),
}


@dataclass(frozen=True)
class HealthThresholds:
    """Where a product's rates turn its health to warning or critical (settings): the
    rejection and auto-acceptance rates at or above theirs, the active acceptance and
    review rates at or below theirs (`analytics_summary.py`)."""

    rejection_warning: float = 0.20
    rejection_critical: float = 0.35
    auto_warning: float = 0.20
    auto_critical: float = 0.40
    active_warning: float = 0.40
    active_critical: float = 0.20
    review_warning: float = 0.50
    review_critical: float = 0.25


def _params(sql: str, product_ids: Sequence[int], health: HealthThresholds) -> dict[str, Any]:
    values: dict[str, Any] = {"ids": list(product_ids), **health.__dict__}
    return {name: value for name, value in values.items() if f"${name}" in sql}


def refresh(
    conn: DuckDBPyConnection,
    table: str,
    product_ids: Sequence[int],
    health: HealthThresholds,
) -> dict[int, WriteCounts]:
    """Replace the products' rows of `analytics.<table>`; what changed, per product."""
    sql = QUERIES[table]
    run(conn, "CREATE TEMP TABLE new_rows AS " + sql, _params(sql, product_ids, health))
    try:
        _ensure_table(conn, table, health)
        target = f"{SCHEMA}.{table}"
        chosen = "product_id IN (SELECT unnest($ids::BIGINT[]))"
        ids = {"ids": list(product_ids)}
        run(conn, f"CREATE TEMP TABLE old_rows AS SELECT * FROM {target} WHERE {chosen}", ids)
        run(conn, f"DELETE FROM {target} WHERE {chosen}", ids)
        run(conn, f"INSERT INTO {target} SELECT * FROM new_rows")
        return _counts(conn, table, product_ids)
    finally:
        run(conn, "DROP TABLE IF EXISTS temp.new_rows")
        run(conn, "DROP TABLE IF EXISTS temp.old_rows")


def _ensure_table(conn: DuckDBPyConnection, table: str, health: HealthThresholds) -> None:
    """Create the table in the shape of `new_rows`; rebuild it if its shape is older."""
    run(conn, f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    wanted = _describe(conn, "new_rows")
    existing = _describe(conn, f"{SCHEMA}.{table}") if _exists(conn, table) else []
    if existing == wanted:
        return
    if existing:
        log.warning("analytics.%s has columns of an older release: rebuilding it", table)
        run(conn, f"DROP TABLE {SCHEMA}.{table}")
    run(conn, f"CREATE TABLE {SCHEMA}.{table} AS SELECT * FROM new_rows LIMIT 0")
    if existing:
        everyone = [row[0] for row in conn.execute("SELECT id FROM products").fetchall()]
        sql = QUERIES[table]
        run(conn, f"INSERT INTO {SCHEMA}.{table} " + sql, _params(sql, everyone, health))


def _exists(conn: DuckDBPyConnection, table: str) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
        "AND NOT temporary",
        [SCHEMA, table],
    ).fetchall()
    return bool(found[0][0])


def _describe(conn: DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    return [(str(row[0]), str(row[1])) for row in conn.execute(f"DESCRIBE {name}").fetchall()]


def _counts(
    conn: DuckDBPyConnection, table: str, product_ids: Sequence[int]
) -> dict[int, WriteCounts]:
    # Keys may be NULL (a test with no dates has no month): NULL matches NULL here.
    same = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in KEYS[table])
    changed = "(SELECT * FROM new_rows EXCEPT SELECT * FROM old_rows)"
    queries = {
        "rows": "SELECT product_id, count(*) FROM new_rows GROUP BY 1",
        "created": f"SELECT product_id, count(*) FROM new_rows a ANTI JOIN old_rows b ON {same} "
        "GROUP BY 1",
        "updated": f"SELECT product_id, count(*) FROM {changed} a SEMI JOIN old_rows b ON {same} "
        "GROUP BY 1",
        "removed": f"SELECT product_id, count(*) FROM old_rows a ANTI JOIN new_rows b ON {same} "
        "GROUP BY 1",
    }
    found = {name: dict(conn.execute(sql).fetchall()) for name, sql in queries.items()}
    total = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchall()[0][0]
    return {
        pid: WriteCounts(
            created=int(found["created"].get(pid, 0)),
            updated=int(found["updated"].get(pid, 0)),
            removed=int(found["removed"].get(pid, 0)),
            rows=int(found["rows"].get(pid, 0)),
            table_rows=int(total),
        )
        for pid in product_ids
    }


def rows_of(
    conn: DuckDBPyConnection,
    table: str,
    product_ids: Sequence[int],
    order: Sequence[tuple[str, bool]] = (),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The products' rows of `analytics.<table>` as dicts: in the table's order, or by
    `order` (column, descending; empty values last), the first `limit` of them if given
    (a preview without reading every row)."""
    terms = ", ".join(f"{c} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in order)
    cursor = conn.execute(
        f"SELECT * FROM {SCHEMA}.{table} WHERE product_id IN (SELECT unnest($ids::BIGINT[]))"
        + (f" ORDER BY {terms}" if terms else "")
        + (f" LIMIT {int(limit)}" if limit is not None else ""),
        {"ids": list(product_ids)},
    )
    return dict_rows(cursor)


def analytics_counts(conn: DuckDBPyConnection) -> dict[str, int]:
    """Rows of each analytics table that exists, as `analytics.<table>`."""
    found = {}
    for table in QUERIES:
        if _exists(conn, table):
            count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchall()[0][0]
            found[f"{SCHEMA}.{table}"] = int(count)
    return found
