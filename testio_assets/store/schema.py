"""Forward migrations of the DuckDB schema, as literal DDL.

Each migration is history: once released its text never changes, whatever the tables
look like today (`tables.py` declares that, and a test proves the migrations build
exactly it). They are applied in order, each in one transaction, and the database
records the highest applied number in `schema_version`. A migration only adds or
reshapes, never drops data, so an old database file upgrades in place.
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection

from testio_assets.store.sql import run

MIGRATION_1 = [
    """CREATE TABLE IF NOT EXISTS products (
  id BIGINT PRIMARY KEY,
  name VARCHAR,
  description VARCHAR,
  type VARCHAR,
  default_section_id BIGINT,
  sections STRUCT(id BIGINT, name VARCHAR)[],
  is_sectioned BOOLEAN NOT NULL,
  is_active BOOLEAN NOT NULL,
  first_seen_at TIMESTAMPTZ NOT NULL,
  last_seen_at TIMESTAMPTZ NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL,
  features_synced_at TIMESTAMPTZ
)""",
    """CREATE TABLE IF NOT EXISTS tests (
  id BIGINT PRIMARY KEY,
  product_id BIGINT NOT NULL,
  section_id BIGINT,
  section_name VARCHAR,
  title VARCHAR,
  test_title VARCHAR,
  status VARCHAR,
  review_status VARCHAR,
  testing_type VARCHAR,
  goal VARCHAR,
  instructions VARCHAR,
  out_of_scope VARCHAR,
  report_language VARCHAR,
  start_at TIMESTAMPTZ,
  end_at TIMESTAMPTZ,
  created_by VARCHAR,
  submitted_by VARCHAR,
  feature_ids BIGINT[],
  test_environment_id BIGINT,
  test_environment_title VARCHAR,
  test_environment_url VARCHAR,
  is_final BOOLEAN NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS bugs (
  id BIGINT PRIMARY KEY,
  product_id BIGINT NOT NULL,
  test_id BIGINT,
  title VARCHAR,
  severity VARCHAR,
  status VARCHAR,
  language VARCHAR,
  location VARCHAR,
  expected_result VARCHAR,
  actual_result VARCHAR,
  steps VARCHAR[],
  known BOOLEAN,
  auto_accepted BOOLEAN,
  author_name VARCHAR,
  feature_id BIGINT,
  test_feature_id BIGINT,
  section_id BIGINT,
  exported_at TIMESTAMPTZ,
  reported_at TIMESTAMPTZ,
  external_idx VARCHAR,
  comments STRUCT(id BIGINT, body VARCHAR, author_name VARCHAR, created_at TIMESTAMPTZ)[],
  reproduction_authors VARCHAR[],
  devices VARCHAR[],
  synced_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS features (
  id BIGINT PRIMARY KEY,
  product_id BIGINT NOT NULL,
  title VARCHAR,
  description VARCHAR,
  howtofind VARCHAR,
  location VARCHAR,
  target_idx VARCHAR,
  section_ids BIGINT[],
  user_story_count INTEGER NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS user_stories (
  feature_id BIGINT NOT NULL,
  ordinal INTEGER NOT NULL,
  id BIGINT,
  product_id BIGINT NOT NULL,
  title VARCHAR,
  path VARCHAR,
  synced_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (feature_id, ordinal)
)""",
    """CREATE TABLE IF NOT EXISTS users (
  product_id BIGINT NOT NULL,
  name VARCHAR NOT NULL,
  role VARCHAR NOT NULL,
  first_activity_at TIMESTAMPTZ,
  last_activity_at TIMESTAMPTZ,
  bugs_reported INTEGER NOT NULL,
  comments_written INTEGER NOT NULL,
  reproductions INTEGER NOT NULL,
  tests_created INTEGER NOT NULL,
  tests_submitted INTEGER NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (product_id, name, role)
)""",
    "CREATE INDEX IF NOT EXISTS tests_product ON tests (product_id)",
    "CREATE INDEX IF NOT EXISTS bugs_test ON bugs (test_id)",
    "CREATE INDEX IF NOT EXISTS bugs_product ON bugs (product_id)",
    "CREATE INDEX IF NOT EXISTS features_product ON features (product_id)",
]

MIGRATION_2 = [
    "ALTER TABLE tests ADD COLUMN IF NOT EXISTS bugs_synced_at TIMESTAMPTZ",
    # True once bugs were read after the test became final: no need to ask again.
    "ALTER TABLE tests ADD COLUMN IF NOT EXISTS bugs_synced_final BOOLEAN DEFAULT FALSE",
]

MIGRATION_3 = [
    """CREATE TABLE IF NOT EXISTS skipped_records (
  product_id BIGINT NOT NULL,
  asset VARCHAR NOT NULL,
  endpoint VARCHAR NOT NULL,
  record_id VARCHAR,
  reason VARCHAR,
  seen_at TIMESTAMPTZ NOT NULL
)""",
]

# Bugs keep their devices' parts (the labels stay, as `device_labels`), their test
# environment (never its credentials) and how many attachments they have. Nothing is
# backfilled: the next sync of a bug fills them. The table is rebuilt rather than altered:
# DuckDB alters no table an index depends on, and dropping and making the indexes again
# around an ALTER in one transaction aborts DuckDB 1.5 at its commit.
_BUG_COLUMNS_3 = (
    "id, product_id, test_id, title, severity, status, language, location, "
    "expected_result, actual_result, steps, known, auto_accepted, author_name, feature_id, "
    "test_feature_id, section_id, exported_at, reported_at, external_idx, comments, "
    "reproduction_authors"
)
MIGRATION_4 = [
    """CREATE TABLE bugs_v4 (
  id BIGINT PRIMARY KEY,
  product_id BIGINT NOT NULL,
  test_id BIGINT,
  title VARCHAR,
  severity VARCHAR,
  status VARCHAR,
  language VARCHAR,
  location VARCHAR,
  expected_result VARCHAR,
  actual_result VARCHAR,
  steps VARCHAR[],
  known BOOLEAN,
  auto_accepted BOOLEAN,
  author_name VARCHAR,
  feature_id BIGINT,
  test_feature_id BIGINT,
  section_id BIGINT,
  exported_at TIMESTAMPTZ,
  reported_at TIMESTAMPTZ,
  external_idx VARCHAR,
  comments STRUCT(id BIGINT, body VARCHAR, author_name VARCHAR, created_at TIMESTAMPTZ)[],
  reproduction_authors VARCHAR[],
  device_labels VARCHAR[],
  synced_at TIMESTAMPTZ NOT NULL,
  devices STRUCT(id BIGINT, category VARCHAR, vendor VARCHAR, operating_system VARCHAR,
    operating_system_version VARCHAR, device VARCHAR, browsers VARCHAR[])[],
  test_environment_id BIGINT,
  test_environment_title VARCHAR,
  attachment_count INTEGER
)""",
    f"INSERT INTO bugs_v4 ({_BUG_COLUMNS_3}, device_labels, synced_at) "
    f"SELECT {_BUG_COLUMNS_3}, devices, synced_at FROM bugs",
    "DROP TABLE bugs",
    "ALTER TABLE bugs_v4 RENAME TO bugs",
    "CREATE INDEX IF NOT EXISTS bugs_test ON bugs (test_id)",
    "CREATE INDEX IF NOT EXISTS bugs_product ON bugs (product_id)",
]

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "initial tables", MIGRATION_1),
    (2, "bug sync bookkeeping on tests", MIGRATION_2),
    (3, "records a sync had to leave out", MIGRATION_3),
    (4, "bug devices as structs, test environment, attachments", MIGRATION_4),
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
