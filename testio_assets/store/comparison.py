"""Two DuckDB files compared table by table (the raw tables, then the analytics), and the
key facts of one (the soak's truth)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from testio_assets.store.analytics import KEYS as ANALYTICS_KEYS
from testio_assets.store.analytics_sql import SCHEMA as ANALYTICS_SCHEMA
from testio_assets.store.sql import literal
from testio_assets.store.tables import BOOKKEEPING, PRIMARY_KEYS, TABLES

# When our sync first saw something: not the account's data, differs from a fresh sync.
SEEN = frozenset({"first_seen_at", "seen_at"})


def _scope(table: str, product_ids: Iterable[int]) -> str:
    column = "id" if table == "products" else "product_id"
    ids = ",".join(str(int(p)) for p in product_ids) or "NULL"
    return f"{column} IN ({ids})"


def differing_keys(
    stored: Path, reference: Path, product_ids: Iterable[int]
) -> dict[str, tuple[int, list[tuple[object, ...]]]]:
    """Per table: (rows in `reference`, keys of rows missing, extra or changed in
    `stored`), over every data column, for `product_ids`."""
    ids = sorted(product_ids)
    result = {}
    with duckdb.connect() as conn:
        conn.execute(f"ATTACH {literal(str(stored))} AS stored (READ_ONLY)")
        conn.execute(f"ATTACH {literal(str(reference))} AS truth (READ_ONLY)")
        for table, columns in TABLES.items():
            names = ", ".join(c for c in columns if c not in BOOKKEEPING | SEEN)
            key = ", ".join(PRIMARY_KEYS[table] or ("product_id", "record_id"))
            where = _scope(table, ids)
            left = f"SELECT {names} FROM stored.{table} WHERE {where}"
            right = f"SELECT {names} FROM truth.{table} WHERE {where}"
            result[table] = _differing(conn, left, right, key)
        result.update(_differing_analytics(conn, ids))
    return result


def _differing(
    conn: duckdb.DuckDBPyConnection, left: str, right: str, key: str
) -> tuple[int, list[tuple[object, ...]]]:
    """(rows of `right`, keys of the rows that `left` and `right` do not share)."""
    keys = conn.execute(
        f"SELECT DISTINCT {key} FROM (({left}) EXCEPT ({right})) "
        f"UNION SELECT DISTINCT {key} FROM (({right}) EXCEPT ({left})) ORDER BY ALL"
    ).fetchall()
    count = conn.execute(f"SELECT count(*) FROM ({right})").fetchone()
    return (int(count[0]) if count else 0, keys)


def _differing_analytics(
    conn: duckdb.DuckDBPyConnection, product_ids: list[int]
) -> dict[str, tuple[int, list[tuple[object, ...]]]]:
    """The analytics tables of `stored` against `truth` (a table never built counts as
    empty): computed from the raw tables, they differ when they were not rebuilt after
    their data changed."""
    result = {}
    built = {
        (database, name)
        for database, name in conn.execute(
            "SELECT database_name, table_name FROM duckdb_tables() WHERE schema_name = ?",
            [ANALYTICS_SCHEMA],
        ).fetchall()
    }
    where = _scope("analytics", product_ids)
    for table, keys in ANALYTICS_KEYS.items():
        if ("truth", table) not in built:
            continue
        right = f"SELECT * FROM truth.{ANALYTICS_SCHEMA}.{table} WHERE {where}"
        left = (
            f"SELECT * FROM stored.{ANALYTICS_SCHEMA}.{table} WHERE {where}"
            if ("stored", table) in built
            else f"SELECT * FROM ({right}) WHERE false"
        )
        result[f"{ANALYTICS_SCHEMA}.{table}"] = _differing(conn, left, right, ", ".join(keys))
    return result


def key_facts(stored: Path, product_ids: Iterable[int]) -> dict[str, set[tuple[object, ...]]]:
    """Each product's activity (all products), and for `product_ids` each test's product
    and status, each bug's test and status, each feature's product and title."""
    ids = set(product_ids)
    queries = {
        "products": "SELECT id, is_active FROM products",
        "tests": f"SELECT id, product_id, status FROM tests WHERE {_scope('tests', ids)}",
        "bugs": f"SELECT id, test_id, status FROM bugs WHERE {_scope('bugs', ids)}",
        "features": f"SELECT id, product_id, title FROM features WHERE {_scope('features', ids)}",
    }
    with duckdb.connect(str(stored), read_only=True) as conn:
        return {table: set(conn.execute(sql).fetchall()) for table, sql in queries.items()}
