"""What each analytics asset holds, with its formulas, as the Dagster UI shows it."""

from __future__ import annotations

COMMON = """
Terms and formulas (all tables):
- a bug is *accepted* when its status is `accepted`: *auto-accepted* if `auto_accepted`
  is true, *actively accepted* (`bugs_accepted`) otherwise; *awaiting review* when neither
  accepted nor rejected;
- `severity_score` = 5 x critical + 3 x high + 1 x (low + visual + content) bugs;
- `overall_acceptance_rate` = (actively accepted + auto-accepted) / bugs;
- `active_acceptance_rate` = actively accepted / bugs;
- `auto_acceptance_rate` = auto-accepted / (actively accepted + auto-accepted);
- `rejection_rate` = rejected / bugs; `review_rate` = (actively accepted + rejected) / bugs;
- `bugs_per_test` = bugs / executed tests (tests not `initialized` or `cancelled`);
- a rate is NULL when its denominator is 0.
Rebuilt per product from the raw tables whenever they change (declarative automation).
"""

DESCRIPTIONS: dict[str, str] = {
    "feature_quality": (
        "Per product and feature: tests that covered it (`tests`: tests listing the feature), "
        "bugs by severity and status, severity score, acceptance and rejection rates, "
        "bugs per covering test, last test and last bug; `never_tested` marks coverage gaps. "
        "Bugs count towards the feature they name (`bugs.feature_id`)." + COMMON
    ),
    "tester_activity": (
        "Per product and tester (everyone `users` lists with role `tester`): bugs reported, "
        "accepted (actively / automatically), rejected and awaiting review, critical bugs, "
        "severity score, acceptance and rejection rates, reproductions and comments, first "
        "and last activity." + COMMON
    ),
    "quality_by_month": (
        "Per product, month and testing type (the month of the test's end, or start if it "
        "has not ended): tests, executed tests, bugs by severity and status, severity score, "
        "active testers (distinct bug authors), bugs per test and every rate. Bugs count in "
        "their test's month and testing type." + COMMON
    ),
    "product_quality_summary": (
        "Per product: tests by status, executed and open (changeable) tests, tests created "
        "and submitted by customers, last test date, bugs by severity and status, severity "
        "score, active testers, features, features tested and never tested, bugs per test, "
        "every rate, and a health status: `critical` or `warning` once the rejection rate or "
        "the auto-acceptance rate reaches its threshold (TESTIO_HEALTH_* settings), "
        "`healthy` otherwise; `health_reasons` says which. The product's name comes from the "
        "catalogue (a renamed product shows its new name at the next rebuild)." + COMMON
    ),
}
