"""The analytics tables' queries: each computes its table's rows for a list of products.

Every query takes `$ids` (the products, a BIGINT[]) and reads only the raw tables. The
definitions are the ones the README's analytics table and the assets' descriptions state
(`defs/assets/analytics_text.py`):

- a bug is *accepted* when its status is `accepted`; *auto-accepted* when also
  `auto_accepted` is true, *actively accepted* otherwise; *reviewed* when actively
  accepted or rejected; *awaiting review* when neither accepted nor rejected;
- the severity score weighs critical 5, high 3, low / visual / content 1, others 0;
- an *executed* test is one not `initialized` or `cancelled`; `bugs_per_test` divides the
  bugs of executed tests by executed tests (like by like);
- over time, a bug counts in the month (week) it was reported, a test in the month
  (week) it ended, or started when it has no end;
- rates are NULL where their denominator is 0, never a made-up 0.
"""

from __future__ import annotations

from testio_assets.store.analytics_summary import PRODUCT_QUALITY_SUMMARY
from testio_assets.store.analytics_terms import (
    BUG_FLAGS,
    BUG_MEASURES,
    RATES,
    SCHEMA,
    SEVERITY_COUNTS,
    STATUS_COUNTS,
    zero_if_null,
)

__all__ = ["QUERIES", "SCHEMA"]

FEATURE_QUALITY = f"""
WITH {BUG_FLAGS},
covered AS (
    SELECT product_id, feature_id, count(DISTINCT id) AS tests, max(test_at) AS last_test_at
    FROM (SELECT product_id, id, coalesce(end_at, start_at) AS test_at,
                 unnest(feature_ids) AS feature_id
          FROM tests WHERE product_id IN (SELECT unnest($ids::BIGINT[])))
    GROUP BY ALL
),
per_feature AS (
    SELECT product_id, feature_id, {BUG_MEASURES}, max(reported_at) AS last_bug_at
    FROM bug_flags WHERE feature_id IS NOT NULL GROUP BY ALL
)
SELECT f.product_id, f.id AS feature_id, f.title AS feature,
       coalesce(c.tests, 0) AS tests, c.last_test_at,
       {zero_if_null("b", "bugs", *SEVERITY_COUNTS, "bugs_other_severity")},
       {zero_if_null("b", *STATUS_COUNTS, "severity_score")},
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
WITH {BUG_FLAGS},
per_tester AS (
    SELECT product_id, author_name AS tester, {BUG_MEASURES}
    FROM bug_flags WHERE author_name IS NOT NULL GROUP BY ALL
)
SELECT u.product_id, u.name AS tester,
       u.bugs_reported::BIGINT AS bugs_reported,
       {zero_if_null("p", *STATUS_COUNTS, "bugs_critical", "severity_score")},
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


def quality_over_time(unit: str) -> str:
    """Per product, `unit` (month or week) and testing type: tests in the period they
    ended (started, without an end), bugs in the period they were reported (their test's
    period, without a report date)."""
    return f"""
WITH {BUG_FLAGS},
test_periods AS (
    SELECT product_id, date_trunc('{unit}', coalesce(end_at, start_at)) AS period,
           coalesce(testing_type, 'unknown') AS testing_type,
           count(*) AS tests,
           count(*) FILTER (WHERE coalesce(status, '') NOT IN ('initialized', 'cancelled'))
               AS tests_executed
    FROM tests WHERE product_id IN (SELECT unnest($ids::BIGINT[])) GROUP BY ALL
),
bug_periods AS (
    SELECT product_id, date_trunc('{unit}', coalesce(reported_at, test_at)) AS period,
           coalesce(testing_type, 'unknown') AS testing_type, {BUG_MEASURES},
           count(*) FILTER (WHERE test_executed) AS bugs_of_executed_tests,
           count(DISTINCT author_name) AS active_testers
    FROM bug_flags GROUP BY ALL
),
joined AS (
    SELECT product_id, period, testing_type,
           coalesce(t.tests, 0) AS tests, coalesce(t.tests_executed, 0) AS tests_executed,
           COLUMNS(lambda c: c NOT IN ('product_id', 'period', 'testing_type', 'tests',
                                  'tests_executed'))
    FROM test_periods t FULL JOIN bug_periods b USING (product_id, period, testing_type)
)
SELECT product_id, period::DATE AS {unit}, testing_type, tests, tests_executed,
       coalesce(COLUMNS(lambda c: c LIKE 'bugs%' OR c IN ('severity_score', 'active_testers')), 0),
       coalesce(bugs_of_executed_tests, 0) / nullif(tests_executed, 0) AS bugs_per_test,
       {RATES}
FROM joined
ORDER BY product_id, {unit}, testing_type
"""


BUGS_BY_PLATFORM = f"""
WITH {BUG_FLAGS},
platforms AS (
    -- a bug counts once per operating system it was reported on; without devices, once
    -- under 'unknown'
    SELECT DISTINCT id, coalesce(os, 'unknown') AS operating_system
    FROM (SELECT id, unnest(CASE WHEN len(devices) > 0
                                 THEN [d.operating_system FOR d IN devices]
                                 ELSE [NULL::VARCHAR] END) AS os
          FROM bugs WHERE product_id IN (SELECT unnest($ids::BIGINT[])))
),
per_platform AS (
    SELECT f.product_id, p.operating_system, {BUG_MEASURES}
    FROM bug_flags f JOIN platforms p ON p.id = f.id GROUP BY ALL
)
SELECT product_id, operating_system, bugs, bugs_critical, bugs_high,
       bugs_accepted, bugs_auto_accepted, bugs_rejected, bugs_awaiting_review,
       severity_score, {RATES}
FROM per_platform
ORDER BY product_id, bugs DESC, operating_system
"""

QUERIES: dict[str, str] = {
    "feature_quality": FEATURE_QUALITY,
    "tester_activity": TESTER_ACTIVITY,
    "quality_by_month": quality_over_time("month"),
    "quality_by_week": quality_over_time("week"),
    "bugs_by_platform": BUGS_BY_PLATFORM,
    "product_quality_summary": PRODUCT_QUALITY_SUMMARY,
}
