"""The simulated Test IO account: seeded synthetic data and a simulated clock.

Everything derives from (profile, seed): the same pair always yields the same account.
`advance()` moves simulated time forward and changes the account the way a real one
changes: tests move through their statuses, new tests and bugs appear, features are
added, renamed and removed, products appear and disappear.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from testio_assets.simulator.entities import SimBug, SimFeature, SimProduct, SimTest
from testio_assets.simulator.payloads import DEVICES, AccountPayloads
from testio_assets.simulator.profiles import PROFILES, Profile

TEST_FLOW = ["initialized", "running", "locked", "customer_finalized", "archived"]
PRODUCT_TYPES = [
    "website",
    "mobile_app_ios",
    "mobile_app_android",
    "mobile_app_windows",
    "streaming_app",
    "gaming",
]
TESTING_TYPES = ["coverage", "usability", "rapid", "focused", "custom"]
SEVERITIES = ["low", "high", "critical", "visual", "content", "custom", "suggestion"]
BUG_STATUSES = ["submitted", "manager_approved", "forwarded", "question", "accepted", "rejected"]
AREAS = [
    "Login",
    "Checkout",
    "Search",
    "Profile",
    "Cart",
    "Settings",
    "Onboarding",
    "Payments",
    "Notifications",
    "Landing Page",
    "Account",
    "Orders",
    "Wishlist",
    "Help",
    "Reviews",
]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class SimulatedAccount(AccountPayloads):
    """A deterministic, mutable Test IO account."""

    def __init__(self, profile: Profile | str = "demo", seed: int = 7) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.seed = seed
        self.now = START
        self.step = 0
        self.products: dict[int, SimProduct] = {}
        self.tests: dict[int, SimTest] = {}
        self.bugs_by_test: dict[int, list[SimBug]] = {}
        # Encoded `bug_json` per bug id: most of what the simulator serves is bugs, and
        # encoding them again for every request made it slower than the API it imitates.
        self._encoded_bugs: dict[int, bytes] = {}
        self._next = {
            "product": 1001,
            "section": 50001,
            "test": 200001,
            "bug": 900001,
            "feature": 30001,
            "story": 600001,
            "comment": 1,
        }
        self.testers = [f"tester_{i:04d}" for i in range(1, 401)]
        rng = random.Random(seed)
        for _ in range(self.profile.products):
            self._new_product(rng, initial=True)

    # -- ids and generation ----------------------------------------------------------------

    def _id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    def _new_product(self, rng: random.Random, initial: bool) -> SimProduct:
        pid = self._id("product")
        sectioned = rng.random() < self.profile.sectioned_share
        sections = (
            [(self._id("section"), f"Section {n}") for n in range(1, rng.randint(2, 3) + 1)]
            if sectioned
            else []
        )
        product = SimProduct(
            id=pid,
            name=f"Product {pid} ({rng.choice(['Shop', 'App', 'Portal', 'Game', 'TV'])})",
            description=None if rng.random() < 0.3 else f"Crowdtesting of product {pid}",
            type=rng.choice(PRODUCT_TYPES),
            default_section_id=self._id("section"),
            sections=sections,
            customers=[f"customer_{pid}_{n}" for n in range(1, rng.randint(3, 6) + 1)],
        )
        self.products[pid] = product
        for _ in range(rng.randint(*self.profile.features_per_product)):
            self._new_feature(rng, product)
        n_tests = rng.randint(*self.profile.tests_per_product)
        for index in range(n_tests):
            age_days = (n_tests - index) * 3 if initial else 0
            if self.profile.changeable_anywhere:
                final = initial and rng.random() < self.profile.final_share
            else:
                final = initial and index < n_tests * self.profile.final_share
            self._new_test(rng, product, age_days, final)
        return product

    def _new_feature(self, rng: random.Random, product: SimProduct) -> SimFeature:
        fid = self._id("feature")
        if product.sections:
            section_ids = [rng.choice(product.sections)[0]]
            # Some features belong to two sections: the API returns them from both.
            if len(product.sections) > 1 and rng.random() < 0.2:
                other = [s for s, _ in product.sections if s != section_ids[0]]
                section_ids.append(rng.choice(other))
        else:
            section_ids = []
        area = rng.choice(AREAS)
        feature = SimFeature(
            id=fid,
            product_id=product.id,
            title=f"{area} {fid}",
            description=None if rng.random() < 0.2 else f"Everything about {area.lower()}",
            howtofind=None if rng.random() < 0.3 else "From the main menu",
            section_ids=section_ids,
            stories=[
                (self._id("story"), f"As a user I can use {area.lower()} ({n})")
                for n in range(rng.randint(0, 4))
            ],
        )
        product.features[fid] = feature
        return feature

    def _new_test(
        self, rng: random.Random, product: SimProduct, age_days: float, final: bool
    ) -> SimTest:
        tid = self._id("test")
        start = self.now - timedelta(days=age_days, hours=rng.randint(0, 20))
        status = (
            ("archived" if rng.random() < 0.9 else "cancelled")
            if final
            else rng.choice(TEST_FLOW[:4])
            if age_days
            else "initialized"
        )
        no_start = rng.random() < 0.03
        # About 6% of tests have a null end_at, the data the old system choked on.
        no_end = rng.random() < 0.06 or status == "initialized"
        feature_ids = list(product.features)
        test = SimTest(
            id=tid,
            product_id=product.id,
            section_id=rng.choice(product.sections)[0] if product.sections else None,
            title=f"{rng.choice(TESTING_TYPES).title()} test {tid}",
            status=status,
            review_status=rng.choice(["review_successful", "in_review", None]),
            testing_type=rng.choice(TESTING_TYPES),
            start_at=None if no_start else start,
            end_at=None if no_end else start + timedelta(hours=rng.randint(24, 96)),
            created_by=None if rng.random() < 0.1 else rng.choice(product.customers),
            submitted_by=None if rng.random() < 0.3 else rng.choice(product.customers),
            feature_ids=rng.sample(feature_ids, min(len(feature_ids), rng.randint(1, 3))),
        )
        product.tests.append(test)
        self.tests[tid] = test
        self.bugs_by_test[tid] = []
        if status != "initialized":
            for _ in range(rng.randint(*self.profile.bugs_per_test)):
                self._new_bug(rng, test)
        return test

    def _new_bug(self, rng: random.Random, test: SimTest) -> SimBug:
        bid = self._id("bug")
        base = test.start_at or self.now
        steps = [f"Step {n}: open the {rng.choice(AREAS).lower()} page" for n in range(1, 4)]
        bug = SimBug(
            id=bid,
            test_id=test.id,
            product_id=test.product_id,
            title=f"Bug {bid}: {rng.choice(AREAS)} does not respond",
            severity=rng.choice(SEVERITIES),
            status=rng.choice(BUG_STATUSES),
            language=rng.choice(["en", "de", "fr"]),
            steps=steps,
            steps_as_text=rng.random() < 0.3,
            author=rng.choice(self.testers),
            comments=[
                (
                    self._id("comment"),
                    "Could you add a screenshot?",
                    rng.choice(self.testers + self.products[test.product_id].customers),
                    base + timedelta(hours=rng.randint(1, 48)),
                )
                for _ in range(rng.randint(0, 2))
            ],
            reproducers=rng.sample(self.testers, rng.randint(0, 2)),
            device=rng.randrange(len(DEVICES)),
            feature_id=rng.choice(test.feature_ids) if test.feature_ids else None,
            reported_at=base + timedelta(hours=rng.randint(1, 40)),
            known=rng.random() < 0.1,
            auto_accepted=rng.choice([True, False, None]),
        )
        self.bugs_by_test[test.id].append(bug)
        return bug

    # -- simulated time ----------------------------------------------------------------

    def advance(self, steps: int = 1) -> None:
        """Move simulated time forward by `steps` days, changing the account as it goes."""
        self.changed()
        for _ in range(steps):
            self.step += 1
            self.now += timedelta(days=1)
            rng = random.Random(f"{self.seed}-{self.step}")
            for product in list(self.products.values()):
                if product.active:
                    self._evolve_product(rng, product)
            active = [p for p in self.products.values() if p.active]
            if len(active) > 1 and rng.random() < 0.3:
                rng.choice(active).active = False
            if rng.random() < 0.3:
                self._new_product(rng, initial=False)

    def _evolve_product(self, rng: random.Random, product: SimProduct) -> None:
        for test in product.tests:
            if not test.can_change:
                continue
            if rng.random() < 0.03:
                test.status = "cancelled"
            elif rng.random() < 0.5:
                test.status = (
                    TEST_FLOW[TEST_FLOW.index(test.status) + 1]
                    if test.status in TEST_FLOW
                    else "archived"
                )
                if test.status == "running" and test.start_at is None:
                    test.start_at = self.now
                if test.status in ("customer_finalized", "archived") and test.end_at is None:
                    test.end_at = self.now
            if test.status in ("running", "locked") and rng.random() < 0.4:
                self._new_bug(rng, test)
            for bug in self.bugs_by_test[test.id]:
                if bug.status == "submitted" and rng.random() < 0.3:
                    bug.status = "accepted"
        if rng.random() < 0.3:
            self._new_test(rng, product, 0, final=False)
        if rng.random() < 0.2:
            self._new_feature(rng, product)
        if product.features and rng.random() < 0.2:
            feature = product.features[rng.choice(list(product.features))]
            feature.title = f"{feature.title} (renamed day {self.step})"
        if len(product.features) > 2 and rng.random() < 0.15:
            del product.features[rng.choice(list(product.features))]

    def add_product(self) -> SimProduct:
        """Make a new product appear (with history: tests of all ages, mostly final)."""
        self.changed()
        return self._new_product(
            random.Random(f"{self.seed}-new-{len(self.products)}"), initial=True
        )

    def remove_product(self, product_id: int) -> None:
        """Make a product vanish from `/products` (its endpoints then answer 404)."""
        self.changed()
        self.products[product_id].active = False

    def changed(self) -> None:
        """Forget encoded records; call after changing the account's objects directly."""
        self._encoded_bugs.clear()

    # -- views the API serves ------------------------------------------------------------

    def active_products(self) -> list[SimProduct]:
        return [p for p in self.products.values() if p.active]

    # -- facts for tests and benchmarks ------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How much data the active products hold (what a full sync must store)."""
        active = self.active_products()
        tests = [t for p in active for t in p.tests]
        return {
            "products": len(active),
            "tests": len(tests),
            "bugs": sum(len(self.bugs_by_test[t.id]) for t in tests),
            "features": sum(len(p.features) for p in active),
            "user_stories": sum(len(f.stories) for p in active for f in p.features.values()),
        }
