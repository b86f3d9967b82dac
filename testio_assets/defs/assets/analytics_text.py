"""What each analytics asset holds, with its definitions, as the Dagster UI shows it. The
README's analytics table says the same, measure by measure."""

from __future__ import annotations

COMMON = """
Definitions (all tables):
- a bug is *accepted* when its status is `accepted`: *auto-accepted* if `auto_accepted`
  is true, *actively accepted* (`bugs_accepted`) otherwise; *rejected* when `rejected`;
  *awaiting review* when neither accepted nor rejected;
- `severity_score` = 5 x critical + 3 x high + 1 x (low + visual + content) bugs;
- `overall_acceptance_rate` = (actively accepted + auto-accepted) / bugs;
- `active_acceptance_rate` = actively accepted / bugs;
- `auto_acceptance_rate` = auto-accepted / (actively accepted + auto-accepted);
- `rejection_rate` = rejected / bugs; `review_rate` = (actively accepted + rejected) / bugs;
- an *executed* test is one not `initialized` or `cancelled`; `bugs_per_test` = bugs of
  executed tests / executed tests;
- a rate is NULL when its denominator is 0.
Rebuilt by the step that changed their data (`product_data`).
"""

OVER_TIME = """ A test counts in the period it ended (started, when it has no end); a bug in the
period it was reported (its test's, without a report date), under its test's testing type.
Measures: tests, executed tests, bugs by severity and status, severity score, active
testers (distinct bug authors), bugs per test and every rate."""

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
    "quality_by_month": "Per product, month and testing type." + OVER_TIME + COMMON,
    "quality_by_week": (
        "Per product, week (starting Monday) and testing type." + OVER_TIME + COMMON
    ),
    "bugs_by_platform": (
        "Per product and operating system (`bugs.devices`): bugs, critical and high bugs, "
        "accepted, auto-accepted, rejected and awaiting review, severity score and every "
        "rate. A bug reported on several operating systems counts once under each; a bug "
        "without devices counts under `unknown`." + COMMON
    ),
    "product_quality_summary": (
        "Per product: tests by status, executed and open (changeable) tests, tests created "
        "and submitted by customers, last test date, bugs by severity and status, severity "
        "score, active testers, bugs of executed tests and bugs per test, known bugs and "
        "their share (`known_bug_share` = bugs marked known / bugs), features tested and "
        "never tested, every rate, and a health status from four indicators: `critical` "
        "or `warning` once the rejection rate or the auto-acceptance rate reaches its "
        "threshold, or the active acceptance rate or the review rate falls to its "
        "threshold (TESTIO_HEALTH_* settings); `healthy` otherwise or without bugs. "
        "`health_reasons` names each indicator out of bounds. The product's name comes "
        "from the catalogue." + COMMON
    ),
}
