"""Size profiles of the simulated account. Same profile + same seed = same data."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    """Shape of a simulated account.

    Attributes:
        products: number of products at time zero.
        tests_per_product: (min, max) tests per product.
        bugs_per_test: (min, max) bugs per test.
        features_per_product: (min, max) features per product.
        sectioned_share: share of products with sections (features read per section).
        final_share: share of tests already archived/cancelled at time zero.
        changeable_anywhere: the tests that can still change are spread through the whole
            history (tests left `locked` for months) instead of being the newest.
    """

    products: int
    tests_per_product: tuple[int, int]
    bugs_per_test: tuple[int, int]
    features_per_product: tuple[int, int]
    sectioned_share: float = 0.25
    final_share: float = 0.8
    changeable_anywhere: bool = False


PROFILES: dict[str, Profile] = {
    # A handful of products that answer instantly: the newcomer's first run.
    "demo": Profile(
        products=5,
        tests_per_product=(20, 40),
        bugs_per_test=(0, 4),
        features_per_product=(6, 12),
        sectioned_share=0.4,
    ),
    # Shaped like a real big account: 225 products, a quarter sectioned, ~100 tests each.
    "large": Profile(
        products=225,
        tests_per_product=(80, 120),
        bugs_per_test=(1, 7),
        features_per_product=(20, 40),
    ),
    # The large account, with a quarter of the tests still changeable at random positions
    # in their history: what makes re-reading changeable tests by id expensive.
    "scattered": Profile(
        products=225,
        tests_per_product=(80, 120),
        bugs_per_test=(1, 7),
        features_per_product=(20, 40),
        final_share=0.75,
        changeable_anywhere=True,
    ),
    # Reduced large profile for CI's benchmark run.
    "small": Profile(
        products=20, tests_per_product=(30, 60), bugs_per_test=(1, 5), features_per_product=(8, 16)
    ),
}


def profile_for(name: str, products: int | None = None) -> Profile:
    """The named profile, with `products` products instead of its own number if given
    (the same shape per product: `testio-assets bench --products N`)."""
    base = PROFILES[name]
    return base if products is None else replace(base, products=products)
