"""Column schemas for the UI, read off the DuckDB table definitions."""

from __future__ import annotations

from dagster import TableColumn, TableSchema

from testio_assets.store.schema import TABLES

EXTRA_COLUMNS = {
    "tests": [("bugs_synced_at", "TIMESTAMPTZ"), ("bugs_synced_final", "BOOLEAN")],
}


def column_schema(table: str) -> TableSchema:
    """The table's columns with their DuckDB types, as Dagster shows them."""
    columns = [
        (name, sql.replace(" PRIMARY KEY", "").replace(" NOT NULL", ""))
        for name, (sql, _) in TABLES[table].items()
    ]
    columns += EXTRA_COLUMNS.get(table, [])
    return TableSchema(columns=[TableColumn(name=name, type=sql) for name, sql in columns])
