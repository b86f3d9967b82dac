"""The migrations build exactly the tables `store/tables.py` declares, and upgrade old files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from testio_assets.store.database import DuckDBStore
from testio_assets.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from testio_assets.store.tables import PRIMARY_KEYS, TABLES, arrow_schema
from tests.pipeline_helpers import query


def columns_of(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {name: kind for name, kind in rows}


def canonical_type(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """How DuckDB spells a declared type (TIMESTAMPTZ -> TIMESTAMP WITH TIME ZONE)."""
    return str(conn.execute(f"SELECT typeof(NULL::{sql})").fetchall()[0][0])


def primary_key_of(conn: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    return tuple(rows[0][0]) if rows else ()


def test_migrations_build_the_declared_tables(db: Path) -> None:
    with duckdb.connect(str(db)) as conn:
        assert migrate(conn) == len(MIGRATIONS)
        for table, declared in TABLES.items():
            canonical = {name: canonical_type(conn, sql) for name, sql in declared.items()}
            assert columns_of(conn, table) == canonical, table
            assert primary_key_of(conn, table) == PRIMARY_KEYS[table], table
        assert migrate(conn) == 0  # applied once


def test_staged_rows_fit_their_tables(db: Path) -> None:
    """Every staging schema names real columns in table order (a typo would fail a sync)."""
    with duckdb.connect(str(db)) as conn:
        migrate(conn)
        for table in TABLES:
            staged = arrow_schema(table).names
            stored = list(columns_of(conn, table))
            assert staged == [c for c in stored if c in staged], table


def test_an_old_file_is_upgraded_in_place_without_losing_rows(db: Path) -> None:
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER NOT NULL, description VARCHAR, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        for statement in MIGRATIONS[0][2]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 'initial tables', now())")
        conn.execute(
            "INSERT INTO tests (id, product_id, is_final, synced_at) VALUES (1, 7, true, now())"
        )
        conn.execute(
            "INSERT INTO bugs (id, product_id, test_id, devices, synced_at) "
            "VALUES (3, 7, 1, ['Google Pixel 8 Android 14'], now())"
        )
    # The file an earlier release wrote in place becomes the writer's starting point.
    store = DuckDBStore(path=str(db))
    version = store.read(lambda c: c.execute("SELECT max(version) FROM schema_version").fetchall())
    row = store.read(
        lambda c: c.execute("SELECT id, product_id, bugs_synced_final FROM tests").fetchall()
    )
    assert version[0][0] == SCHEMA_VERSION
    assert row == [(1, 7, False)]
    # The device labels stay; what the old file cannot know stays empty until a sync.
    bug = store.read(
        lambda c: c.execute(
            "SELECT device_labels, devices, attachment_count FROM bugs WHERE id = 3"
        ).fetchall()
    )
    assert bug == [(["Google Pixel 8 Android 14"], None, None)]
    # ... and readers see it upgraded, published at once.
    assert query(db, "SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION
