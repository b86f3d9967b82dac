"""The analytics tables' queries: each computes its table's rows for a list of products.

Every query takes `$ids` (the products, a BIGINT[]) and reads only the raw tables. The
formulas are the ones the assets' descriptions state (`assets/analytics_text.py`):

- a bug is *accepted* when its status is `accepted`; *auto-accepted* when also
  `auto_accepted` is true, *actively accepted* otherwise; *reviewed* when actively
  accepted or rejected; *awaiting review* when neither accepted nor rejected;
- the severity score weighs critical 5, high 3, low / visual / content 1, others 0;
- rates are NULL where their denominator is 0, never a made-up 0;
- an *executed* test is one not `initialized` or `cancelled`.
"""

from __future__ import annotations

SCHEMA = "analytics"

# One row per stored bug of the chosen products, with the flags every table counts.
_BUG_FLAGS = """
bug_flags AS (
    SELECT b.product_id, b.id, b.test_id, b.feature_id, b.severity, b.status, b.author_name,
           b.reported_at, t.testing_type,
           coalesce(t.end_at, t.start_at) AS test_at,
           b.status = 'accepted' AND coalesce(b.auto_accepted, false) AS is_auto,
           b.status = 'accepted' AND NOT coalesce(b.auto_accepted, false) AS is_active,
           b.status = 'rejected' AS is_rejected,
           coalesce(b.status, '') NOT IN ('accepted', 'rejected') AS is_awaiting,
           CASE b.severity WHEN 'critical' THEN 5 WHEN 'high' THEN 3
                WHEN 'low' THEN 1 WHEN 'visual' THEN 1 WHEN 'content' THEN 1 ELSE 0 END
               AS weight
    FROM bugs b LEFT JOIN tests t ON t.id = b.test_id
    WHERE b.product_id IN (SELECT unnest($ids::BIGINT[]))
)"""

# The per-group bug measures, over `bug_flags` rows (used with a GROUP BY).
_BUG_MEASURES = """
    count(*) AS bugs,
    count(*) FILTER (WHERE severity = 'critical') AS bugs_critical,
    count(*) FILTER (WHERE severity = 'high') AS bugs_high,
    count(*) FILTER (WHERE severity = 'low') AS bugs_low,
    count(*) FILTER (WHERE severity = 'visual') AS bugs_visual,
    count(*) FILTER (WHERE severity = 'content') AS bugs_content,
    count(*) FILTER (WHERE coalesce(severity, '') NOT IN
                     ('critical', 'high', 'low', 'visual', 'content')) AS bugs_other_severity,
    count(*) FILTER (WHERE is_active) AS bugs_accepted,
    count(*) FILTER (WHERE is_auto) AS bugs_auto_accepted,
    count(*) FILTER (WHERE is_rejected) AS bugs_rejected,
    count(*) FILTER (WHERE is_awaiting) AS bugs_awaiting_review,
    sum(weight)::BIGINT AS severity_score"""

# Rates over the measures above (in an outer SELECT).
_RATES = """
    (bugs_accepted + bugs_auto_accepted) / nullif(bugs, 0) AS overall_acceptance_rate,
    bugs_accepted / nullif(bugs, 0) AS active_acceptance_rate,
    bugs_auto_accepted / nullif(bugs_accepted + bugs_auto_accepted, 0) AS auto_acceptance_rate,
    bugs_rejected / nullif(bugs, 0) AS rejection_rate,
    (bugs_accepted + bugs_rejected) / nullif(bugs, 0) AS review_rate"""


def _zero_if_null(alias: str, *columns: str) -> str:
    """`coalesce(alias.c, 0) AS c` for each column: a group without bugs counts 0."""
    return ",\n       ".join(f"coalesce({alias}.{c}, 0) AS {c}" for c in columns)


_SEVERITY_COUNTS = ("bugs_critical", "bugs_high", "bugs_low", "bugs_visual", "bugs_content")
_STATUS_COUNTS = ("bugs_accepted", "bugs_auto_accepted", "bugs_rejected", "bugs_awaiting_review")

FEATURE_QUALITY = f"""
WITH {_BUG_FLAGS},
covered AS (
    SELECT product_id, feature_id, count(DISTINCT id) AS tests, max(test_at) AS last_test_at
    FROM (SELECT product_id, id, coalesce(end_at, start_at) AS test_at,
                 unnest(feature_ids) AS feature_id
          FROM tests WHERE product_id IN (SELECT unnest($ids::BIGINT[])))
    GROUP BY ALL
),
per_feature AS (
    SELECT product_id, feature_id, {_BUG_MEASURES}, max(reported_at) AS last_bug_at
    FROM bug_flags WHERE feature_id IS NOT NULL GROUP BY ALL
)
SELECT f.product_id, f.id AS feature_id, f.title AS feature,
       coalesce(c.tests, 0) AS tests, c.last_test_at,
       {_zero_if_null("b", "bugs", *_SEVERITY_COUNTS, "bugs_other_severity")},
       {_zero_if_null("b", *_STATUS_COUNTS, "severity_score")},
       (coalesce(b.bugs_accepted, 0) + coalesce(b.bugs_auto_accepted, 0))
           / nullif(b.bugs, 0) AS overall_acceptance_rate,
       b.bugs_rejected / nullif(b.bugs, 0) AS rejection_rate,
       coalesce(b.bugs, 0) / nullif(c.tests, 0) AS bugs_per_test,
       b.last_bug_at,
       c.tests IS NULL AS never_tested
FROM features f
LEFT JOIN covered c ON c.product_id = f.product_id AND c.feature_id = f.id
LEFT JOIN per_feature b ON b.product_id = f.product_id AND b.feature_id = f.id
WHERE f.product_id IN (SELECT unnest($ids::BIGINT[]))
ORDER BY f.product_id, severity_score DESC, bugs DESC, f.id
"""

TESTER_ACTIVITY = f"""
WITH {_BUG_FLAGS},
per_tester AS (
    SELECT product_id, author_name AS tester, {_BUG_MEASURES}
    FROM bug_flags WHERE author_name IS NOT NULL GROUP BY ALL
)
SELECT u.product_id, u.name AS tester,
       u.bugs_reported::BIGINT AS bugs_reported,
       {_zero_if_null("p", *_STATUS_COUNTS, "bugs_critical", "severity_score")},
       (coalesce(p.bugs_accepted, 0) + coalesce(p.bugs_auto_accepted, 0))
           / nullif(p.bugs, 0) AS overall_acceptance_rate,
       p.bugs_rejected / nullif(p.bugs, 0) AS rejection_rate,
       u.reproductions::BIGINT AS reproductions,
       u.comments_written::BIGINT AS comments,
       u.first_activity_at, u.last_activity_at
FROM users u
LEFT JOIN per_tester p ON p.product_id = u.product_id AND p.tester = u.name
WHERE u.role = 'tester' AND u.product_id IN (SELECT unnest($ids::BIGINT[]))
ORDER BY u.product_id, bugs_reported DESC, u.name
"""

QUALITY_BY_MONTH = f"""
WITH {_BUG_FLAGS},
test_months AS (
    SELECT product_id, date_trunc('month', coalesce(end_at, start_at)) AS month,
           coalesce(testing_type, 'unknown') AS testing_type,
           count(*) AS tests,
           count(*) FILTER (WHERE coalesce(status, '') NOT IN ('initialized', 'cancelled'))
               AS tests_executed
    FROM tests WHERE product_id IN (SELECT unnest($ids::BIGINT[])) GROUP BY ALL
),
bug_months AS (
    SELECT product_id, date_trunc('month', test_at) AS month,
           coalesce(testing_type, 'unknown') AS testing_type, {_BUG_MEASURES},
           count(DISTINCT author_name) AS active_testers
    FROM bug_flags GROUP BY ALL
),
joined AS (
    SELECT product_id, month, testing_type,
           coalesce(t.tests, 0) AS tests, coalesce(t.tests_executed, 0) AS tests_executed,
           COLUMNS(lambda c: c NOT IN ('product_id', 'month', 'testing_type', 'tests',
                                  'tests_executed'))
    FROM test_months t FULL JOIN bug_months b USING (product_id, month, testing_type)
)
SELECT product_id, month::DATE AS month, testing_type, tests, tests_executed,
       coalesce(COLUMNS(lambda c: c LIKE 'bugs%' OR c IN ('severity_score', 'active_testers')), 0),
       bugs / nullif(tests_executed, 0) AS bugs_per_test,
       {_RATES}
FROM joined
ORDER BY product_id, month, testing_type
"""

PRODUCT_QUALITY_SUMMARY = f"""
WITH {_BUG_FLAGS},
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
    SELECT product_id, {_BUG_MEASURES}, count(DISTINCT author_name) AS active_testers
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
    SELECT *, bugs / nullif(tests_executed, 0) AS bugs_per_test, {_RATES} FROM measures
),
reasons AS (
    SELECT *, list_filter([
        CASE WHEN rejection_rate >= $rejection_critical THEN 'critical: ' || printf(
            'rejection rate %.0f%% >= %.0f%%', 100 * rejection_rate, 100 * $rejection_critical)
             WHEN rejection_rate >= $rejection_warning THEN 'warning: ' || printf(
            'rejection rate %.0f%% >= %.0f%%', 100 * rejection_rate, 100 * $rejection_warning)
        END,
        CASE WHEN auto_acceptance_rate >= $auto_critical THEN 'critical: ' || printf(
            'auto-acceptance rate %.0f%% >= %.0f%%', 100 * auto_acceptance_rate,
            100 * $auto_critical)
             WHEN auto_acceptance_rate >= $auto_warning THEN 'warning: ' || printf(
            'auto-acceptance rate %.0f%% >= %.0f%%', 100 * auto_acceptance_rate,
            100 * $auto_warning)
        END], lambda r: r IS NOT NULL) AS health_reasons
    FROM rated
)
SELECT * EXCLUDE (health_reasons),
       CASE WHEN list_bool_or([r LIKE 'critical%' FOR r IN health_reasons]) THEN 'critical'
            WHEN len(health_reasons) > 0 THEN 'warning' ELSE 'healthy' END AS health,
       health_reasons
FROM reasons
ORDER BY product_id
"""

QUERIES: dict[str, str] = {
    "feature_quality": FEATURE_QUALITY,
    "tester_activity": TESTER_ACTIVITY,
    "quality_by_month": QUALITY_BY_MONTH,
    "product_quality_summary": PRODUCT_QUALITY_SUMMARY,
}
