"""What each asset is, as the Dagster UI shows it."""

from __future__ import annotations

from testio_assets.names import BUGS, FEATURES, PRODUCTS, TESTS, USERS

DESCRIPTIONS = {
    PRODUCTS: """The Test IO product catalogue (`GET /products`): name, type, sections and an
`is_sectioned` flag. Products that vanish upstream are marked inactive, never deleted with
their data. Each active product is one partition of the per-product assets.""",
    TESTS: """Every exploratory test (test cycle) of the product.

The first sync pages through all tests. Later syncs page newest-first only until they
reach tests already stored, plus one page of overlap, and re-read by id only the tests
that can still change (not archived/cancelled; unknown statuses count as changeable).
Test-environment credentials are never stored.""",
    BUGS: """Bugs of the product's tests, via `/bugs?filter_test_cycle_ids=` in batches.

Asked for tests never bug-synced and tests that can still change; a test that became
final gets one last read, after which its bugs are never asked for again. Each test
records `bugs_synced_at`.""",
    FEATURES: """The product's feature catalogue with its user stories.

Sectioned products are read per section (directly when the catalogue says the product
is sectioned, or after the product endpoint answers 422); a feature listed by several
sections is one row carrying all its section ids. Features removed upstream disappear
from the product's rows. Writes `products.features_synced_at` in the same transaction.
Kept fresh by `stale_features_sensor` within `FEATURE_CACHE_TTL_SECONDS`.""",
    USERS: """Everyone the product's data names: testers (bug, comment and reproduction
authors) and customer users (test `created_by` / `submitted_by`), with role, first and
last activity and counts. Derived from the stored tests and bugs with SQL: no API calls.""",
}
