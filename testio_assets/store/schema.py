"""The DuckDB schema: table definitions, their Arrow staging schemas, and forward migrations.

Migrations are numbered and applied in order inside one transaction each; the database
records the highest applied number in `schema_version`. A migration only ever adds or
reshapes, never drops data, so an old database file upgrades in place.
"""

from __future__ import annotations

import pyarrow as pa
from duckdb import DuckDBPyConnection

from testio_assets.store.sql import run

TS = pa.timestamp("us", tz="UTC")

# Column name -> (DuckDB type, Arrow type). Order matters: it is the column order.
PRODUCT_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "id": ("BIGINT PRIMARY KEY", pa.int64()),
    "name": ("VARCHAR", pa.string()),
    "description": ("VARCHAR", pa.string()),
    "type": ("VARCHAR", pa.string()),
    "default_section_id": ("BIGINT", pa.int64()),
    "sections": (
        "STRUCT(id BIGINT, name VARCHAR)[]",
        pa.list_(pa.struct([("id", pa.int64()), ("name", pa.string())])),
    ),
    "is_sectioned": ("BOOLEAN NOT NULL", pa.bool_()),
    "is_active": ("BOOLEAN NOT NULL", pa.bool_()),
    "first_seen_at": ("TIMESTAMPTZ NOT NULL", TS),
    "last_seen_at": ("TIMESTAMPTZ NOT NULL", TS),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
    "features_synced_at": ("TIMESTAMPTZ", TS),
}

TEST_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "id": ("BIGINT PRIMARY KEY", pa.int64()),
    "product_id": ("BIGINT NOT NULL", pa.int64()),
    "section_id": ("BIGINT", pa.int64()),
    "section_name": ("VARCHAR", pa.string()),
    "title": ("VARCHAR", pa.string()),
    "test_title": ("VARCHAR", pa.string()),
    "status": ("VARCHAR", pa.string()),
    "review_status": ("VARCHAR", pa.string()),
    "testing_type": ("VARCHAR", pa.string()),
    "goal": ("VARCHAR", pa.string()),
    "instructions": ("VARCHAR", pa.string()),
    "out_of_scope": ("VARCHAR", pa.string()),
    "report_language": ("VARCHAR", pa.string()),
    "start_at": ("TIMESTAMPTZ", TS),
    "end_at": ("TIMESTAMPTZ", TS),
    "created_by": ("VARCHAR", pa.string()),
    "submitted_by": ("VARCHAR", pa.string()),
    "feature_ids": ("BIGINT[]", pa.list_(pa.int64())),
    "test_environment_id": ("BIGINT", pa.int64()),
    "test_environment_title": ("VARCHAR", pa.string()),
    "test_environment_url": ("VARCHAR", pa.string()),
    "is_final": ("BOOLEAN NOT NULL", pa.bool_()),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
}

COMMENT = pa.struct(
    [("id", pa.int64()), ("body", pa.string()), ("author_name", pa.string()), ("created_at", TS)]
)

BUG_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "id": ("BIGINT PRIMARY KEY", pa.int64()),
    "product_id": ("BIGINT NOT NULL", pa.int64()),
    "test_id": ("BIGINT", pa.int64()),
    "title": ("VARCHAR", pa.string()),
    "severity": ("VARCHAR", pa.string()),
    "status": ("VARCHAR", pa.string()),
    "language": ("VARCHAR", pa.string()),
    "location": ("VARCHAR", pa.string()),
    "expected_result": ("VARCHAR", pa.string()),
    "actual_result": ("VARCHAR", pa.string()),
    "steps": ("VARCHAR[]", pa.list_(pa.string())),
    "known": ("BOOLEAN", pa.bool_()),
    "auto_accepted": ("BOOLEAN", pa.bool_()),
    "author_name": ("VARCHAR", pa.string()),
    "feature_id": ("BIGINT", pa.int64()),
    "test_feature_id": ("BIGINT", pa.int64()),
    "section_id": ("BIGINT", pa.int64()),
    "exported_at": ("TIMESTAMPTZ", TS),
    "reported_at": ("TIMESTAMPTZ", TS),
    "external_idx": ("VARCHAR", pa.string()),
    "comments": (
        "STRUCT(id BIGINT, body VARCHAR, author_name VARCHAR, created_at TIMESTAMPTZ)[]",
        pa.list_(COMMENT),
    ),
    "reproduction_authors": ("VARCHAR[]", pa.list_(pa.string())),
    "devices": ("VARCHAR[]", pa.list_(pa.string())),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
}

FEATURE_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "id": ("BIGINT PRIMARY KEY", pa.int64()),
    "product_id": ("BIGINT NOT NULL", pa.int64()),
    "title": ("VARCHAR", pa.string()),
    "description": ("VARCHAR", pa.string()),
    "howtofind": ("VARCHAR", pa.string()),
    "location": ("VARCHAR", pa.string()),
    "target_idx": ("VARCHAR", pa.string()),
    "section_ids": ("BIGINT[]", pa.list_(pa.int64())),
    "user_story_count": ("INTEGER NOT NULL", pa.int32()),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
}

USER_STORY_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "feature_id": ("BIGINT NOT NULL", pa.int64()),
    "ordinal": ("INTEGER NOT NULL", pa.int32()),
    "id": ("BIGINT", pa.int64()),
    "product_id": ("BIGINT NOT NULL", pa.int64()),
    "title": ("VARCHAR", pa.string()),
    "path": ("VARCHAR", pa.string()),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
}

USER_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "product_id": ("BIGINT NOT NULL", pa.int64()),
    "name": ("VARCHAR NOT NULL", pa.string()),
    "role": ("VARCHAR NOT NULL", pa.string()),
    "first_activity_at": ("TIMESTAMPTZ", TS),
    "last_activity_at": ("TIMESTAMPTZ", TS),
    "bugs_reported": ("INTEGER NOT NULL", pa.int32()),
    "comments_written": ("INTEGER NOT NULL", pa.int32()),
    "reproductions": ("INTEGER NOT NULL", pa.int32()),
    "tests_created": ("INTEGER NOT NULL", pa.int32()),
    "tests_submitted": ("INTEGER NOT NULL", pa.int32()),
    "synced_at": ("TIMESTAMPTZ NOT NULL", TS),
}

TABLES: dict[str, dict[str, tuple[str, pa.DataType]]] = {
    "products": PRODUCT_COLUMNS,
    "tests": TEST_COLUMNS,
    "bugs": BUG_COLUMNS,
    "features": FEATURE_COLUMNS,
    "user_stories": USER_STORY_COLUMNS,
    "users": USER_COLUMNS,
}

# Extra constraints that do not fit on one column.
TABLE_SUFFIX = {
    "user_stories": ", PRIMARY KEY (feature_id, ordinal)",
    "users": ", PRIMARY KEY (product_id, name, role)",
}

# Bookkeeping columns: they move on every sync and are not "the data".
BOOKKEEPING = frozenset(
    {"synced_at", "last_seen_at", "features_synced_at", "bugs_synced_at", "bugs_synced_final"}
)


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, arrow) for name, (_, arrow) in TABLES[table].items()])


def _create(table: str) -> str:
    columns = ",\n  ".join(f"{name} {sql}" for name, (sql, _) in TABLES[table].items())
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}{TABLE_SUFFIX.get(table, '')}\n)"


MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "initial tables",
        [_create(table) for table in TABLES]
        + [
            "CREATE INDEX IF NOT EXISTS tests_product ON tests (product_id)",
            "CREATE INDEX IF NOT EXISTS bugs_test ON bugs (test_id)",
            "CREATE INDEX IF NOT EXISTS bugs_product ON bugs (product_id)",
            "CREATE INDEX IF NOT EXISTS features_product ON features (product_id)",
        ],
    ),
    (
        2,
        "bug sync bookkeeping on tests",
        [
            "ALTER TABLE tests ADD COLUMN IF NOT EXISTS bugs_synced_at TIMESTAMPTZ",
            # True once bugs were read after the test became final: no need to ask again.
            "ALTER TABLE tests ADD COLUMN IF NOT EXISTS bugs_synced_final BOOLEAN DEFAULT FALSE",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(conn: DuckDBPyConnection) -> int:
    run(
        conn,
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER NOT NULL, description VARCHAR, applied_at TIMESTAMPTZ NOT NULL)",
    )
    rows = conn.execute("SELECT max(version) FROM schema_version").fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def migrate(conn: DuckDBPyConnection) -> int:
    """Bring the schema up to `SCHEMA_VERSION`; returns the number of migrations applied."""
    applied = 0
    version = current_version(conn)
    for number, description, statements in MIGRATIONS:
        if number <= version:
            continue
        run(conn, "BEGIN TRANSACTION")
        try:
            for statement in statements:
                run(conn, statement)
            run(conn, "INSERT INTO schema_version VALUES (?, ?, now())", [number, description])
            run(conn, "COMMIT")
        except Exception:
            run(conn, "ROLLBACK")
            raise
        applied += 1
    return applied
