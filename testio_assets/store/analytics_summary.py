"""The product summary's query: one row per product, with its health from four indicators.

Health: each indicator is judged against its warning and critical threshold (settings
`TESTIO_HEALTH_*`): the rejection rate and the auto-acceptance rate are bad when high
(at or above), the active acceptance rate and the review rate when low (at or below). A
product is `critical` when any indicator is, `warning` when any is, `healthy` otherwise or
without bugs; `health_reasons` names each indicator out of bounds with its threshold.
"""

from __future__ import annotations

from testio_assets.store.analytics_terms import BUG_FLAGS, BUG_MEASURES, RATES

# (indicator column, its name in a reason, the threshold parameters' prefix, bad when high)
INDICATORS = (
    ("rejection_rate", "rejection rate", "rejection", True),
    ("auto_acceptance_rate", "auto-acceptance rate", "auto", True),
    ("active_acceptance_rate", "active acceptance rate", "active", False),
    ("review_rate", "review rate", "review", False),
)


def _reason(column: str, label: str, prefix: str, high_is_bad: bool) -> str:
    compare, sign = (">=", ">=") if high_is_bad else ("<=", "<=")
    parts = []
    for level in ("critical", "warning"):
        threshold = f"${prefix}_{level}"
        parts.append(
            f"WHEN {column} {compare} {threshold} THEN '{level}: ' || printf("
            f"'{label} %.0f%% {sign} %.0f%%', 100 * {column}, 100 * {threshold})"
        )
    return "CASE " + " ".join(parts) + " END"


_REASONS = ",\n        ".join(_reason(*indicator) for indicator in INDICATORS)

PRODUCT_QUALITY_SUMMARY = f"""
WITH {BUG_FLAGS},
chosen AS (SELECT unnest($ids::BIGINT[]) AS product_id),
test_stats AS (
    SELECT product_id, count(*) AS tests,
           count(*) FILTER (WHERE coalesce(status, '') NOT IN ('initialized', 'cancelled'))
               AS tests_executed,
           count(*) FILTER (WHERE NOT is_final) AS tests_open,
           count(*) FILTER (WHERE created_by IS NOT NULL) AS tests_created_by_customers,
           count(*) FILTER (WHERE submitted_by IS NOT NULL) AS tests_submitted_by_customers,
           max(coalesce(end_at, start_at)) AS last_test_at
    FROM tests WHERE product_id IN (SELECT product_id FROM chosen) GROUP BY ALL
),
tests_by_status AS (
    SELECT product_id, map_from_entries(list((status, n) ORDER BY status)) AS tests_by_status
    FROM (SELECT product_id, coalesce(status, 'unknown') AS status, count(*) AS n FROM tests
          WHERE product_id IN (SELECT product_id FROM chosen) GROUP BY ALL)
    GROUP BY ALL
),
bugs_by_status AS (
    SELECT product_id, map_from_entries(list((status, n) ORDER BY status)) AS bugs_by_status
    FROM (SELECT product_id, coalesce(status, 'unknown') AS status, count(*) AS n
          FROM bug_flags GROUP BY ALL)
    GROUP BY ALL
),
bug_stats AS (
    SELECT product_id, {BUG_MEASURES}, count(DISTINCT author_name) AS active_testers,
           count(*) FILTER (WHERE test_executed) AS bugs_of_executed_tests,
           count(*) FILTER (WHERE known) AS known_bugs
    FROM bug_flags GROUP BY ALL
),
tested AS (
    SELECT DISTINCT product_id, unnest(feature_ids) AS feature_id FROM tests
    WHERE product_id IN (SELECT product_id FROM chosen)
),
feature_stats AS (
    SELECT f.product_id, count(*) AS features,
           count(*) FILTER (WHERE t.feature_id IS NOT NULL) AS features_tested
    FROM features f LEFT JOIN tested t ON t.product_id = f.product_id AND t.feature_id = f.id
    WHERE f.product_id IN (SELECT product_id FROM chosen) GROUP BY ALL
),
measures AS (
    SELECT c.product_id, p.name AS product,
           coalesce(t.tests, 0) AS tests, coalesce(t.tests_executed, 0) AS tests_executed,
           coalesce(t.tests_open, 0) AS tests_open, s.tests_by_status,
           coalesce(t.tests_created_by_customers, 0) AS tests_created_by_customers,
           coalesce(t.tests_submitted_by_customers, 0) AS tests_submitted_by_customers,
           t.last_test_at,
           coalesce(COLUMNS(b.* EXCLUDE (product_id)), 0),
           bs.bugs_by_status,
           coalesce(f.features, 0) AS features,
           coalesce(f.features_tested, 0) AS features_tested,
           coalesce(f.features, 0) - coalesce(f.features_tested, 0) AS features_never_tested
    FROM chosen c
    LEFT JOIN products p ON p.id = c.product_id
    LEFT JOIN test_stats t USING (product_id)
    LEFT JOIN tests_by_status s USING (product_id)
    LEFT JOIN bug_stats b USING (product_id)
    LEFT JOIN bugs_by_status bs USING (product_id)
    LEFT JOIN feature_stats f USING (product_id)
),
rated AS (
    SELECT *, bugs_of_executed_tests / nullif(tests_executed, 0) AS bugs_per_test,
           known_bugs / nullif(bugs, 0) AS known_bug_share, {RATES}
    FROM measures
),
reasons AS (
    SELECT *, list_filter([
        {_REASONS}
    ], lambda r: r IS NOT NULL) AS health_reasons
    FROM rated
)
SELECT * EXCLUDE (health_reasons),
       CASE WHEN list_bool_or([r LIKE 'critical%' FOR r IN health_reasons]) THEN 'critical'
            WHEN len(health_reasons) > 0 THEN 'warning' ELSE 'healthy' END AS health,
       health_reasons
FROM reasons
ORDER BY product_id
"""
