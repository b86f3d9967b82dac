"""The pieces every analytics query shares: one row of flags per bug, the bug measures
of a group, the rates over them (`analytics_sql.py` says what each means)."""

from __future__ import annotations

SCHEMA = "analytics"

# One row per stored bug of the chosen products, with the flags every table counts.
BUG_FLAGS = """
bug_flags AS (
    SELECT b.product_id, b.id, b.test_id, b.feature_id, b.severity, b.status, b.author_name,
           b.reported_at, b.known, t.testing_type,
           coalesce(t.end_at, t.start_at) AS test_at,
           coalesce(t.status, '') NOT IN ('initialized', 'cancelled') AS test_executed,
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
BUG_MEASURES = """
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
RATES = """
    (bugs_accepted + bugs_auto_accepted) / nullif(bugs, 0) AS overall_acceptance_rate,
    bugs_accepted / nullif(bugs, 0) AS active_acceptance_rate,
    bugs_auto_accepted / nullif(bugs_accepted + bugs_auto_accepted, 0) AS auto_acceptance_rate,
    bugs_rejected / nullif(bugs, 0) AS rejection_rate,
    (bugs_accepted + bugs_rejected) / nullif(bugs, 0) AS review_rate"""

SEVERITY_COUNTS = ("bugs_critical", "bugs_high", "bugs_low", "bugs_visual", "bugs_content")
STATUS_COUNTS = ("bugs_accepted", "bugs_auto_accepted", "bugs_rejected", "bugs_awaiting_review")


def zero_if_null(alias: str, *columns: str) -> str:
    """`coalesce(alias.c, 0) AS c` for each column: a group without bugs counts 0."""
    return ",\n       ".join(f"coalesce({alias}.{c}, 0) AS {c}" for c in columns)
