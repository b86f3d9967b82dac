"""A table's rows as a pandas DataFrame (DuckDB's `.df()` imports pandas, here only)."""

from __future__ import annotations

from typing import Any

from duckdb import DuckDBPyConnection

from testio_assets.store.analytics_sql import SCHEMA
from testio_assets.store.tables import TABLES


def table_frame(
    conn: DuckDBPyConnection, table: str, product_id: int | None, analytics: bool
) -> Any:
    """`table`'s rows (of `product_id`, or all of them) as a DataFrame; an analytics
    table is read from its schema."""
    if not analytics and table not in TABLES:
        raise ValueError(f"{table} is not a table of testio-assets")
    name = f"{SCHEMA}.{table}" if analytics else table
    if product_id is None:
        return conn.execute(f"SELECT * FROM {name}").df()
    column = "id" if table == "products" else "product_id"
    return conn.execute(f"SELECT * FROM {name} WHERE {column} = ?", [product_id]).df()
