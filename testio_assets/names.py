"""The asset names, written once: the multi-asset, the sensors, the schedule, the engine
and the command line all use these."""

from __future__ import annotations

PRODUCTS = "products"
TESTS = "tests"
BUGS = "bugs"
FEATURES = "features"
USERS = "users"

# Per product, each needs the one before it; `features` runs beside them.
CHAIN = (TESTS, BUGS, USERS)
PER_PRODUCT = (*CHAIN, FEATURES)

# Analytics on top of the per-product tables (schema `analytics` in DuckDB).
FEATURE_QUALITY = "feature_quality"
TESTER_ACTIVITY = "tester_activity"
QUALITY_BY_MONTH = "quality_by_month"
QUALITY_BY_WEEK = "quality_by_week"
BUGS_BY_PLATFORM = "bugs_by_platform"
PRODUCT_QUALITY_SUMMARY = "product_quality_summary"
ANALYTICS = (
    FEATURE_QUALITY,
    TESTER_ACTIVITY,
    QUALITY_BY_MONTH,
    QUALITY_BY_WEEK,
    BUGS_BY_PLATFORM,
    PRODUCT_QUALITY_SUMMARY,
)
ANALYTICS_GROUP = "analytics"
# One row per product: partitioned like the data, so Dagster plots each product's figures.
# The other analytics tables span products and are recorded once per run.
PARTITIONED_ANALYTICS = frozenset({PRODUCT_QUALITY_SUMMARY})
# The per-product tables each analytics table is computed from.
ANALYTICS_UPSTREAM = {
    FEATURE_QUALITY: (FEATURES, TESTS, BUGS),
    TESTER_ACTIVITY: (USERS, BUGS),
    QUALITY_BY_MONTH: (TESTS, BUGS),
    QUALITY_BY_WEEK: (TESTS, BUGS),
    BUGS_BY_PLATFORM: (TESTS, BUGS),
    PRODUCT_QUALITY_SUMMARY: (TESTS, BUGS, FEATURES),
}


def analytics_of(assets: list[str]) -> list[str]:
    """The analytics tables computed from any of `assets`, in `ANALYTICS` order."""
    return [name for name in ANALYTICS if set(ANALYTICS_UPSTREAM[name]) & set(assets)]


# The concurrency pool of every step that writes DuckDB (one writer process at a time);
# its limit is in the instance settings (dagster_home/dagster.yaml).
DUCKDB_POOL = "duckdb"

# The run tag holding a product step's API requests, partitions recorded or not.
REQUESTS_TAG = "testio/api_requests"

# The run tag with the launching process's settings digest (settings.settings_digest): a
# run whose own settings differ says so in its log (defs/launch_tags.py).
SETTINGS_TAG = "testio/settings"

# How often a refresh records an unchanged partition anyway (TESTIO_RECORD_EVERY_HOURS).
DEFAULT_RECORD_EVERY_HOURS = 24.0
