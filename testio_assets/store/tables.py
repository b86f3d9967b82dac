"""The tables as they are today: every column declared once, with its DuckDB type.

The Arrow staging schemas and the column schemas the Dagster UI shows are derived from
these declarations; `schema.py` holds the migrations that build them, as literal DDL, and
`tests/test_store_schema.py` proves the two agree.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
COMMENT_TYPE = "STRUCT(id BIGINT, body VARCHAR, author_name VARCHAR, created_at TIMESTAMPTZ)[]"
SECTIONS_TYPE = "STRUCT(id BIGINT, name VARCHAR)[]"
DEVICES_TYPE = (
    "STRUCT(id BIGINT, category VARCHAR, vendor VARCHAR, operating_system VARCHAR, "
    "operating_system_version VARCHAR, device VARCHAR, browsers VARCHAR[])[]"
)

# Table -> column -> DuckDB type. Order is column order.
TABLES: dict[str, dict[str, str]] = {
    "products": {
        "id": "BIGINT",
        "name": "VARCHAR",
        "description": "VARCHAR",
        "type": "VARCHAR",
        "default_section_id": "BIGINT",
        "sections": SECTIONS_TYPE,
        "is_sectioned": "BOOLEAN",
        "is_active": "BOOLEAN",
        "first_seen_at": "TIMESTAMPTZ",
        "last_seen_at": "TIMESTAMPTZ",
        "synced_at": "TIMESTAMPTZ",
        "features_synced_at": "TIMESTAMPTZ",
    },
    "tests": {
        "id": "BIGINT",
        "product_id": "BIGINT",
        "section_id": "BIGINT",
        "section_name": "VARCHAR",
        "title": "VARCHAR",
        "test_title": "VARCHAR",
        "status": "VARCHAR",
        "review_status": "VARCHAR",
        "testing_type": "VARCHAR",
        "goal": "VARCHAR",
        "instructions": "VARCHAR",
        "out_of_scope": "VARCHAR",
        "report_language": "VARCHAR",
        "start_at": "TIMESTAMPTZ",
        "end_at": "TIMESTAMPTZ",
        "created_by": "VARCHAR",
        "submitted_by": "VARCHAR",
        "feature_ids": "BIGINT[]",
        "test_environment_id": "BIGINT",
        "test_environment_title": "VARCHAR",
        "test_environment_url": "VARCHAR",
        "is_final": "BOOLEAN",
        "synced_at": "TIMESTAMPTZ",
        "bugs_synced_at": "TIMESTAMPTZ",
        "bugs_synced_final": "BOOLEAN",
    },
    "bugs": {
        "id": "BIGINT",
        "product_id": "BIGINT",
        "test_id": "BIGINT",
        "title": "VARCHAR",
        "severity": "VARCHAR",
        "status": "VARCHAR",
        "language": "VARCHAR",
        "location": "VARCHAR",
        "expected_result": "VARCHAR",
        "actual_result": "VARCHAR",
        "steps": "VARCHAR[]",
        "known": "BOOLEAN",
        "auto_accepted": "BOOLEAN",
        "author_name": "VARCHAR",
        "feature_id": "BIGINT",
        "test_feature_id": "BIGINT",
        "section_id": "BIGINT",
        "exported_at": "TIMESTAMPTZ",
        "reported_at": "TIMESTAMPTZ",
        "external_idx": "VARCHAR",
        "comments": COMMENT_TYPE,
        "reproduction_authors": "VARCHAR[]",
        "device_labels": "VARCHAR[]",
        "synced_at": "TIMESTAMPTZ",
        "devices": DEVICES_TYPE,
        "test_environment_id": "BIGINT",
        "test_environment_title": "VARCHAR",
        "attachment_count": "INTEGER",
    },
    "features": {
        "id": "BIGINT",
        "product_id": "BIGINT",
        "title": "VARCHAR",
        "description": "VARCHAR",
        "howtofind": "VARCHAR",
        "location": "VARCHAR",
        "target_idx": "VARCHAR",
        "section_ids": "BIGINT[]",
        "user_story_count": "INTEGER",
        "synced_at": "TIMESTAMPTZ",
    },
    "user_stories": {
        "feature_id": "BIGINT",
        "ordinal": "INTEGER",
        "id": "BIGINT",
        "product_id": "BIGINT",
        "title": "VARCHAR",
        "path": "VARCHAR",
        "synced_at": "TIMESTAMPTZ",
    },
    "users": {
        "product_id": "BIGINT",
        "name": "VARCHAR",
        "role": "VARCHAR",
        "first_activity_at": "TIMESTAMPTZ",
        "last_activity_at": "TIMESTAMPTZ",
        "bugs_reported": "INTEGER",
        "comments_written": "INTEGER",
        "reproductions": "INTEGER",
        "tests_created": "INTEGER",
        "tests_submitted": "INTEGER",
        "synced_at": "TIMESTAMPTZ",
    },
    # Records the API sent (or could not send) that a sync had to leave out, per product
    # and asset: replaced by every sync of that asset, so it shows the latest run's.
    "skipped_records": {
        "product_id": "BIGINT",
        "asset": "VARCHAR",
        "endpoint": "VARCHAR",
        "record_id": "VARCHAR",
        "reason": "VARCHAR",
        "seen_at": "TIMESTAMPTZ",
    },
}

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "products": ("id",),
    "tests": ("id",),
    "bugs": ("id",),
    "features": ("id",),
    "user_stories": ("feature_id", "ordinal"),
    "users": ("product_id", "name", "role"),
    "skipped_records": (),
}

# Columns the sync writes in a step of its own (the bug sync stamps tests): not staged
# with the rows.
NOT_STAGED = {"tests": ("bugs_synced_at", "bugs_synced_final")}

# Bookkeeping columns: they move on every sync and are not "the data".
BOOKKEEPING = frozenset(
    {"synced_at", "last_seen_at", "features_synced_at", "bugs_synced_at", "bugs_synced_final"}
)

_ARROW = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": TS,
    "BIGINT[]": pa.list_(pa.int64()),
    "VARCHAR[]": pa.list_(pa.string()),
    SECTIONS_TYPE: pa.list_(pa.struct([("id", pa.int64()), ("name", pa.string())])),
    COMMENT_TYPE: pa.list_(
        pa.struct(
            [
                ("id", pa.int64()),
                ("body", pa.string()),
                ("author_name", pa.string()),
                ("created_at", TS),
            ]
        )
    ),
    DEVICES_TYPE: pa.list_(
        pa.struct(
            [
                ("id", pa.int64()),
                ("category", pa.string()),
                ("vendor", pa.string()),
                ("operating_system", pa.string()),
                ("operating_system_version", pa.string()),
                ("device", pa.string()),
                ("browsers", pa.list_(pa.string())),
            ]
        )
    ),
}


def staged_columns(table: str) -> dict[str, str]:
    """The columns a sync stages for `table` (all but those written in a step of their own)."""
    skipped = NOT_STAGED.get(table, ())
    return {name: sql for name, sql in TABLES[table].items() if name not in skipped}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema rows of `table` are staged in."""
    return pa.schema([(name, _ARROW[sql]) for name, sql in staged_columns(table).items()])
