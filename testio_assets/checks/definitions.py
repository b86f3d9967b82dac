"""Every asset check: which asset, what it compares, how bad a failure is.

The checks are plain data here and plain functions in `evaluate.py`, free of Dagster, so
the engine can run them right after each write and hold back a product's downstream steps
when a blocking one fails; `assets/` turns them into Dagster check specs and evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testio_assets.names import BUGS, FEATURES, PRODUCTS, TESTS, USERS

ERROR = "ERROR"
WARN = "WARN"


@dataclass(frozen=True)
class CheckDef:
    asset: str
    name: str
    severity: str
    blocking: bool
    description: str
    needs_api: bool = False


CHECKS: tuple[CheckDef, ...] = (
    CheckDef(
        PRODUCTS,
        "active_equal_api_listing",
        ERROR,
        False,
        "The products marked active are exactly the products `GET /products` lists.",
        needs_api=True,
    ),
    CheckDef(
        PRODUCTS,
        "every_product_named",
        ERROR,
        True,
        "No product row without a name.",
    ),
    CheckDef(
        TESTS,
        "complete_against_api",
        ERROR,
        False,
        "After a full listing (first sync, `sync --product`, a backfill, or this check run on "
        "its own) the stored tests equal the tests the API lists; after an incremental sync, "
        "every test on the pages read is stored. Names expected, stored and missing ids.",
        needs_api=True,
    ),
    CheckDef(
        TESTS,
        "tests_have_a_product",
        ERROR,
        True,
        "No test whose product is missing from the catalogue.",
    ),
    CheckDef(
        TESTS,
        "no_skipped_records",
        WARN,
        False,
        "The last sync left no test out (a page that always fails, a malformed record); "
        "names the ones it had to skip.",
    ),
    CheckDef(BUGS, "bugs_have_a_test", ERROR, True, "No bug whose test is missing."),
    CheckDef(
        BUGS,
        "no_skipped_records",
        WARN,
        False,
        "The last sync left no bug out (a malformed record); names the ones it had to skip.",
    ),
    CheckDef(
        FEATURES,
        "complete_against_api",
        ERROR,
        False,
        "The stored features equal the API's feature listing (sections de-duplicated).",
        needs_api=True,
    ),
    CheckDef(
        FEATURES,
        "stories_and_sections_consistent",
        ERROR,
        True,
        "No user story whose feature is missing, and every feature of a sectioned product "
        "carries its section ids.",
    ),
    CheckDef(
        FEATURES,
        "fresh_within_ttl",
        WARN,
        False,
        "The product's features were synced within FEATURE_CACHE_TTL_SECONDS: the "
        "per-partition truth `stale_features_sensor` acts on.",
    ),
    CheckDef(
        USERS,
        "match_tests_and_bugs",
        ERROR,
        True,
        "The product's users are exactly what its stored tests and bugs derive.",
    ),
)


def checks_of(asset: str) -> list[CheckDef]:
    return [c for c in CHECKS if c.asset == asset]


def check_def(asset: str, name: str) -> CheckDef:
    return next(c for c in CHECKS if c.asset == asset and c.name == name)


@dataclass(frozen=True)
class CheckOutcome:
    """One evaluation of one check for one product (`product_id=None`: the catalogue)."""

    asset: str
    name: str
    product_id: int | None
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def definition(self) -> CheckDef:
        return check_def(self.asset, self.name)

    @property
    def blocks(self) -> bool:
        """A failed blocking ERROR check: the product's downstream steps must not run."""
        check = self.definition
        return not self.passed and check.blocking and check.severity == ERROR
