"""The per-product sync: one run's work over many products, concurrently.

For each product `tests -> bugs` runs as a chain and `features` beside it, every product
at once (bounded), all HTTP through one session; `users` (SQL only) is rebuilt for groups
of products whose chains have ended. A product that fails (403, retries exhausted, a
database error) fails only its own steps; a refused token (401) stops everything. A
product that answers 404 and is no longer in `GET /products` vanished while the run was
planned or running: it is skipped like a product the catalogue already marked inactive,
not failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import ProductUnavailableError, TokenRefusedError
from testio_assets.api.session import ApiSession
from testio_assets.checks.run import CheckPlan, product_checks
from testio_assets.names import BUGS, CHAIN, FEATURES, PER_PRODUCT, TESTS, USERS
from testio_assets.store.database import DuckDBStore
from testio_assets.store.queries import inactive_products, products_with_fresh_features
from testio_assets.store.session import StoreSession, store_session
from testio_assets.sync.bugs import sync_bugs
from testio_assets.sync.check_only import check_stored
from testio_assets.sync.features import sync_features
from testio_assets.sync.report import PartitionOutcome, ReportCallback, StepReport
from testio_assets.sync.tests import sync_tests
from testio_assets.sync.users import UserGroups, sync_users

log = logging.getLogger("testio_assets.sync")


@dataclass(frozen=True)
class SyncPlan:
    """What a run asks for.

    `features_fresh_for`: keep features synced within that window without an API call.
    `full_listing`: read every page of tests, not only the newest.
    `checks`: the checks to evaluate; an asset not in `selected` whose checks are asked
    for is checked on what is stored, without syncing it.
    """

    product_ids: list[int]
    selected: frozenset[str]
    now: datetime
    features_fresh_for: timedelta | None = None
    full_listing: bool = False
    checks: CheckPlan = field(default_factory=CheckPlan)

    @property
    def checked_only(self) -> list[str]:
        """Assets whose checks run without the asset being synced."""
        return [a for a in PER_PRODUCT if a not in self.selected and self.checks.of(a)]


async def sync_product_partitions(
    client: TestIOClient,
    store: DuckDBStore,
    plan: SyncPlan,
    on_report: ReportCallback | None = None,
) -> PartitionOutcome:
    """Run `plan`; `on_report(asset, product_id, report)` is called as each one is stored.

    Raises:
        TokenRefusedError: at the first 401; every other product's work is cancelled.
    """
    bulk = len(plan.product_ids) if BUGS in plan.selected else 1
    async with store_session(store) as db, client.session(products=bulk) as api:
        run = ProductRun(api, db, plan, on_report, in_flight=max(4, 4 * client.max_concurrency))
        return await run.run()


class ProductRun:
    """The state of one run: its outcome, the users groups, the products in flight."""

    def __init__(
        self,
        api: ApiSession,
        db: StoreSession,
        plan: SyncPlan,
        on_report: ReportCallback | None,
        in_flight: int,
    ) -> None:
        self.api = api
        self.db = db
        self.plan = plan
        self.outcome = PartitionOutcome()
        self._on_report = on_report
        # Enough products to keep every HTTP slot busy, few enough that parsed data does
        # not pile up in memory while it waits for the database.
        self._in_flight = asyncio.Semaphore(in_flight)
        self._fresh_features: set[int] = set()
        self._users = UserGroups(0)
        self._listed: asyncio.Task[set[int]] | None = None
        self._vanished: set[int] = set()

    async def run(self) -> PartitionOutcome:
        product_ids = await self._active(self.plan.product_ids)
        if USERS in self.plan.selected:
            self._users = UserGroups(len(product_ids))
        if self.plan.features_fresh_for is not None and FEATURES in self.plan.selected:
            cutoff = self.plan.now - self.plan.features_fresh_for
            fresh = await self.db.read(partial(products_with_fresh_features, synced_after=cutoff))
            self._fresh_features = fresh & set(product_ids)
            self.outcome.fresh_features = sorted(self._fresh_features)
            self._nothing_to_do([FEATURES], self._fresh_features)
        try:
            async with asyncio.TaskGroup() as group:
                for pid in product_ids:
                    group.create_task(self._product(pid, group))
        except* TokenRefusedError as refused:
            raise refused.exceptions[0] from None
        return self.outcome

    async def _active(self, product_ids: list[int]) -> list[int]:
        # Products the catalogue marked inactive (vanished upstream) are skipped, not
        # failed: their partition may still be in a run planned before the catalogue
        # was refreshed.
        inactive = await self.db.read(inactive_products)
        self.outcome.inactive = sorted(set(product_ids) & inactive)
        if self.outcome.inactive:
            log.warning("skipping product(s) no longer in the account: %s", self.outcome.inactive)
            self._nothing_to_do(sorted(self.plan.selected), self.outcome.inactive)
        return [pid for pid in product_ids if pid not in inactive]

    def _nothing_to_do(self, assets: list[str], product_ids: Iterable[int]) -> None:
        """Tell the listener that these (asset, product) need no work (fresh features, a
        vanished product): a report that records nothing, so progress reaches its total."""
        if self._on_report is not None:
            for pid in product_ids:
                for name in assets:
                    self._on_report(name, pid, StepReport(materialized=False))

    async def _product(self, pid: int, group: asyncio.TaskGroup) -> None:
        async with self._in_flight:
            steps = []
            if self.plan.selected & set(CHAIN):
                steps.append(self._chain(pid, group))
            if FEATURES in self.plan.selected and pid not in self._fresh_features:
                steps.append(self._attempt(FEATURES, pid, partial(self._features, pid)))
            for asset in self.plan.checked_only:
                work = partial(check_stored, self.api, self.db, asset, pid, self.plan.checks)
                steps.append(self._attempt(asset, pid, work))
            await asyncio.gather(*steps)

    async def _chain(self, pid: int, group: asyncio.TaskGroup) -> None:
        """tests -> bugs; a failed step marks the later ones as not attempted."""
        steps = {TESTS: partial(self._tests, pid), BUGS: partial(self._bugs, pid)}
        failed: str | None = None
        for name in CHAIN:
            if name not in self.plan.selected or pid in self._vanished:
                continue
            if failed is not None:
                self.outcome.failures[(name, pid)] = f"not attempted: {failed}"
            elif name in steps and not await self._attempt(name, pid, steps[name]):
                failed = f"upstream {name} failed"
            elif name in steps and (check := self.outcome.reports[(name, pid)].blocking_failure):
                failed = f"the blocking check {name}.{check} failed"
        if USERS in self.plan.selected:
            ready = self._users.chain_ended(pid, ready=failed is None)
            if ready:
                group.create_task(self._rebuild_users(ready))

    async def _checked(self, asset: str, pid: int, report: StepReport) -> StepReport:
        """`report`, with the asset's checks evaluated on what was just stored."""
        report.checks = await product_checks(self.db, asset, pid, report.listing, self.plan.checks)
        return report

    async def _tests(self, pid: int) -> StepReport:
        report = await sync_tests(self.api, self.db, pid, self.plan.now, self.plan.full_listing)
        return await self._checked(TESTS, pid, report)

    async def _bugs(self, pid: int) -> StepReport:
        report = await sync_bugs(self.api, self.db, pid, self.plan.now)
        return await self._checked(BUGS, pid, report)

    async def _features(self, pid: int) -> StepReport:
        report = await sync_features(self.api, self.db, pid, self.plan.now)
        return await self._checked(FEATURES, pid, report)

    async def _rebuild_users(self, pids: list[int]) -> None:
        await asyncio.gather(
            *(self._attempt(USERS, pid, partial(self._users_of, pid)) for pid in pids)
        )

    async def _users_of(self, pid: int) -> StepReport:
        report = await sync_users(self.db, pid, self.plan.now)
        return await self._checked(USERS, pid, report)

    async def _attempt(
        self, name: str, pid: int, work: Callable[[], Awaitable[StepReport]]
    ) -> bool:
        """Run one step; record its report or its failure. False if it failed."""
        try:
            report = await work()
        except TokenRefusedError:
            raise
        except ProductUnavailableError as exc:
            if exc.status_code == 404 and await self._gone_from_account(pid):
                return False
            self.outcome.failures[(name, pid)] = f"{type(exc).__name__}: {exc}"
            log.error("product %d: %s failed: %s", pid, name, exc)
            return False
        except Exception as exc:  # one product's failure must not sink the others
            self.outcome.failures[(name, pid)] = f"{type(exc).__name__}: {exc}"
            log.error("product %d: %s failed: %s", pid, name, exc)
            return False
        self.outcome.reports[(name, pid)] = report
        if self._on_report is not None:
            self._on_report(name, pid, report)
        return True

    async def _gone_from_account(self, pid: int) -> bool:
        """After a 404: is `pid` missing from `GET /products` (read once per run)? Then it
        is recorded as inactive, with a warning, instead of failing."""
        if self._listed is None:
            self._listed = asyncio.ensure_future(self._listing())
        try:
            listed = await asyncio.shield(self._listed)
        except Exception:  # the listing failed too: cannot tell, it stays a failure
            return False
        if pid in listed:
            return False
        if pid not in self._vanished:
            self._vanished.add(pid)
            self.outcome.inactive = sorted({*self.outcome.inactive, pid})
            for name in PER_PRODUCT:  # a step that failed before the 404 is moot too
                self.outcome.failures.pop((name, pid), None)
            log.warning("product %d vanished from the account during the run: skipped", pid)
        return True

    async def _listing(self) -> set[int]:
        return {product.id for product in await self.api.list_products()}
