"""The checks' verdicts: stored facts (`store/check_facts.py`) against what the API listed.

Each function returns one `CheckOutcome` per selected check of its asset. A listing of
`None` means the check was not given one; completeness is then not evaluated (the caller
reads one from the API when the check runs on its own).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from testio_assets.checks.definitions import CheckOutcome
from testio_assets.names import BUGS, FEATURES, PRODUCTS, TESTS, USERS
from testio_assets.store.check_facts import LIMIT, ProductFacts


@dataclass(frozen=True)
class Listing:
    """Ids the API listed, and whether the listing was read in full (every page)."""

    ids: frozenset[int]
    full: bool


def _some(ids: Collection[int]) -> list[int]:
    return sorted(ids)[:LIMIT]


def _ids_text(ids: Collection[int]) -> str:
    shown = ", ".join(str(i) for i in _some(ids))
    return shown + (f" and {len(ids) - LIMIT} more" if len(ids) > LIMIT else "")


def completeness(
    asset: str,
    product_id: int | None,
    kind: str,
    listing: Listing,
    stored: frozenset[int],
    name: str = "complete_against_api",
    held: str = "stored",
) -> CheckOutcome:
    """Stored ids against the listing: equal after a full listing, a superset otherwise.
    (`held`: what the stored ids are, in the description.)"""
    missing = listing.ids - stored
    unexpected = stored - listing.ids if listing.full else frozenset()
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of the {len(listing.ids)} {kind} the API listed are not {held}: "
            + _ids_text(missing)
        )
    if unexpected:
        problems.append(
            f"{len(unexpected)} {held} {kind} are no longer listed by the API: "
            + _ids_text(unexpected)
        )
    scope = "all" if listing.full else "the newest pages of"
    description = "; ".join(problems) or (
        f"all {len(listing.ids)} {kind} the API listed ({scope} the listing) are {held}"
    )
    return CheckOutcome(
        asset,
        name,
        product_id,
        not problems,
        description,
        {
            "listing": "full" if listing.full else "newest pages",
            "expected": len(listing.ids),
            "stored": len(stored),
            "missing": len(missing),
            "missing_ids": _some(missing),
            "not_listed": len(unexpected),
            "not_listed_ids": _some(unexpected),
        },
    )


def _skipped(asset: str, facts: ProductFacts) -> CheckOutcome:
    passed = not facts.skipped
    description = (
        "the last sync left nothing out"
        if passed
        else f"the last sync had to leave {len(facts.skipped)} record(s) out: "
        + "; ".join(facts.skipped[:5])
    )
    return CheckOutcome(
        asset,
        "no_skipped_records",
        facts.product_id,
        passed,
        description,
        {"skipped": len(facts.skipped), "skipped_records": list(facts.skipped[:50])},
    )


def tests_checks(
    facts: ProductFacts, listing: Listing | None, wanted: Collection[str]
) -> list[CheckOutcome]:
    pid = facts.product_id
    outcomes = []
    if "complete_against_api" in wanted and listing is not None:
        outcomes.append(completeness(TESTS, pid, "tests", listing, facts.ids))
    if "tests_have_a_product" in wanted:
        passed = facts.product_known or not facts.ids
        outcomes.append(
            CheckOutcome(
                TESTS,
                "tests_have_a_product",
                pid,
                passed,
                f"product {pid} is in the catalogue"
                if passed
                else f"product {pid} is missing from the catalogue but has "
                f"{len(facts.ids)} stored test(s): {_ids_text(facts.ids)}",
                {"tests": len(facts.ids), "product_in_catalogue": facts.product_known},
            )
        )
    if "no_skipped_records" in wanted:
        outcomes.append(_skipped(TESTS, facts))
    return outcomes


def bugs_checks(facts: ProductFacts, wanted: Collection[str]) -> list[CheckOutcome]:
    pid = facts.product_id
    outcomes = []
    if "bugs_have_a_test" in wanted:
        passed = not facts.orphan_count
        outcomes.append(
            CheckOutcome(
                BUGS,
                "bugs_have_a_test",
                pid,
                passed,
                "every bug's test is stored"
                if passed
                else f"product {pid}: {facts.orphan_count} bug(s) whose test is missing: "
                + _ids_text(facts.orphans)
                + ("" if facts.orphan_count <= LIMIT else " …"),
                {"orphan_bugs": facts.orphan_count, "orphan_bug_ids": list(facts.orphans)},
            )
        )
    if "no_skipped_records" in wanted:
        outcomes.append(_skipped(BUGS, facts))
    return outcomes


def features_checks(
    facts: ProductFacts,
    listing: Listing | None,
    wanted: Collection[str],
    ttl: timedelta,
    now: datetime,
) -> list[CheckOutcome]:
    pid = facts.product_id
    outcomes = []
    if "complete_against_api" in wanted and listing is not None:
        outcomes.append(completeness(FEATURES, pid, "features", listing, facts.ids))
    if "stories_and_sections_consistent" in wanted:
        problems = []
        if facts.orphan_count:
            problems.append(
                f"{facts.orphan_count} feature id(s) have user stories but no feature row: "
                + _ids_text(facts.orphans)
            )
        if facts.unsectioned:
            problems.append(
                f"product {pid} is sectioned but features {_ids_text(facts.unsectioned)} "
                "carry no section ids"
            )
        outcomes.append(
            CheckOutcome(
                FEATURES,
                "stories_and_sections_consistent",
                pid,
                not problems,
                f"product {pid}: " + "; ".join(problems)
                if problems
                else "every user story has its feature"
                + (" and every feature its sections" if facts.is_sectioned else ""),
                {
                    "stories_without_feature": facts.orphan_count,
                    "features_without_sections": len(facts.unsectioned),
                    "sectioned": facts.is_sectioned,
                },
            )
        )
    if "fresh_within_ttl" in wanted:
        outcomes.append(_freshness(facts, ttl, now))
    return outcomes


def _freshness(facts: ProductFacts, ttl: timedelta, now: datetime) -> CheckOutcome:
    synced = facts.features_synced_at
    ttl_s = int(ttl.total_seconds())
    if synced is None:
        return CheckOutcome(
            FEATURES,
            "fresh_within_ttl",
            facts.product_id,
            False,
            "features were never synced",
            {"ttl_seconds": ttl_s},
        )
    age = max(0.0, (now - synced).total_seconds())
    passed = age <= ttl.total_seconds()
    return CheckOutcome(
        FEATURES,
        "fresh_within_ttl",
        facts.product_id,
        passed,
        f"features synced {age:.0f} s ago, "
        + ("within" if passed else "older than")
        + f" the TTL of {ttl_s} s",
        {"age_seconds": round(age, 1), "ttl_seconds": ttl_s, "synced_at": synced.isoformat()},
    )


def users_checks(facts: ProductFacts, wanted: Collection[str]) -> list[CheckOutcome]:
    if "match_tests_and_bugs" not in wanted:
        return []
    differing = facts.users_differing
    return [
        CheckOutcome(
            USERS,
            "match_tests_and_bugs",
            facts.product_id,
            not differing,
            "the users are what the stored tests and bugs say"
            if not differing
            else f"product {facts.product_id}: {len(differing)} user row(s) differ from what "
            "the stored tests and bugs derive: " + ", ".join(differing[:10]),
            {"differing_users": len(differing), "differing": list(differing)},
        )
    ]


def catalogue_checks(
    active: frozenset[int],
    unnamed: tuple[int, ...],
    listing: Listing | None,
    wanted: Collection[str],
) -> list[CheckOutcome]:
    outcomes = []
    if "active_equal_api_listing" in wanted and listing is not None:
        outcomes.append(
            completeness(
                PRODUCTS, None, "products", listing, active, "active_equal_api_listing", "active"
            )
        )
    if "every_product_named" in wanted:
        outcomes.append(
            CheckOutcome(
                PRODUCTS,
                "every_product_named",
                None,
                not unnamed,
                "every product has a name"
                if not unnamed
                else f"{len(unnamed)} product(s) without a name: {_ids_text(unnamed)}",
                {"unnamed": len(unnamed), "unnamed_ids": list(unnamed[:LIMIT])},
            )
        )
    return outcomes
