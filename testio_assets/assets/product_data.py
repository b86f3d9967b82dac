"""The per-product assets `tests`, `bugs`, `features` and `users`, computed in one step.

They are one multi-asset so that a run over many product partitions works on all of them
at once: for each product `tests -> bugs` runs as a chain and `features` beside it, every
product concurrently, all HTTP through one connection pool and one concurrency limit;
`users` (SQL only) is rebuilt for groups of products whose chains have ended. Any subset
of the four can be materialized on its own (`can_subset`).

A product that fails (403/404, retries exhausted, a database error) fails only its own
partitions: the others are stored and reported as materialized, then the step fails
with a message naming each failed product and why.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation.
import asyncio
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    Failure,
    FreshnessPolicy,
    MetadataValue,
    multi_asset,
)
from duckdb import DuckDBPyConnection
from pydantic import Field

from testio_assets.api.client import ApiSession, TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.assets import bugs, features, tests, users
from testio_assets.assets.columns import column_schema
from testio_assets.assets.products import GROUP, KINDS, OWNERS
from testio_assets.assets.report import StepReport
from testio_assets.automation.partitions import product_partitions
from testio_assets.gc_tuning import relaxed_gc
from testio_assets.store.bug_pages import BugPageParser
from testio_assets.store.database import DuckDBStore
from testio_assets.store.session import StoreSession, store_session

log = logging.getLogger("testio_assets.assets")

CHAIN = ("tests", "bugs", "users")  # each needs the one before it, per product
USERS_GROUP = 32  # products whose users are rebuilt together
ALL_PRODUCT_ASSETS = (*CHAIN, "features")
MIN_FRESHNESS_WINDOW = timedelta(minutes=1)
# From this many products on, a run parses bug pages in a worker process (a second of
# start-up, repaid many times over by a free interpreter lock; see `store/bug_pages.py`).
PARSE_IN_WORKER_FROM = 20
ReportCallback = Callable[[str, int, StepReport], None]


@dataclass
class PartitionOutcome:
    """What happened per (asset name, product id)."""

    reports: dict[tuple[str, int], StepReport] = field(default_factory=dict)
    failures: dict[tuple[str, int], str] = field(default_factory=dict)
    fresh_features: list[int] = field(default_factory=list)
    inactive: list[int] = field(default_factory=list)

    @property
    def failed_products(self) -> list[int]:
        return sorted({pid for _, pid in self.failures})


async def sync_product_partitions(
    client: TestIOClient,
    store: DuckDBStore,
    product_ids: list[int],
    selected: set[str],
    now: datetime,
    features_fresh_for: timedelta | None = None,
    on_report: ReportCallback | None = None,
    parse_workers: int | None = None,
) -> PartitionOutcome:
    """Materialize `selected` assets for every product in `product_ids`, concurrently.

    `on_report(asset, product_id, report)` is called as each one is stored.

    With `features_fresh_for`, products whose features were synced within that window
    keep them without an API call (reported in `outcome.fresh_features`).

    Bug pages are parsed in `parse_workers` worker processes (default: one when the run
    has `PARSE_IN_WORKER_FROM` products or more, else in this process).

    Raises:
        TokenRefusedError: at the first 401; every other product's work is cancelled.
    """
    if parse_workers is None:
        parse_workers = 1 if "bugs" in selected and len(product_ids) >= PARSE_IN_WORKER_FROM else 0
    parser = BugPageParser(parse_workers)
    try:
        async with store_session(store) as db:
            return await _sync_with(
                client, db, parser, product_ids, selected, now, features_fresh_for, on_report
            )
    finally:
        await asyncio.to_thread(parser.close)


async def _sync_with(
    client: TestIOClient,
    db: StoreSession,
    parser: BugPageParser,
    product_ids: list[int],
    selected: set[str],
    now: datetime,
    features_fresh_for: timedelta | None,
    on_report: ReportCallback | None,
) -> PartitionOutcome:
    outcome = PartitionOutcome()
    # Products the catalogue marked inactive (vanished upstream) are skipped, not failed:
    # their partition may still be in a run planned before the catalogue was refreshed.
    inactive = await db.read(inactive_products)
    outcome.inactive = sorted(set(product_ids) & inactive)
    if outcome.inactive:
        log.warning("skipping product(s) no longer in the account: %s", outcome.inactive)
        product_ids = [pid for pid in product_ids if pid not in inactive]

    async def attempt(name: str, pid: int, work: Callable[[], Awaitable[StepReport]]) -> bool:
        try:
            report = await work()
            outcome.reports[(name, pid)] = report
            if on_report is not None:
                on_report(name, pid, report)
            return True
        except TokenRefusedError:
            raise
        except Exception as exc:  # one product's failure must not sink the others
            outcome.failures[(name, pid)] = f"{type(exc).__name__}: {exc}"
            log.error("product %d: %s failed: %s", pid, name, exc)
            return False

    def sources_unchanged(pid: int) -> bool:
        # users derive from tests and bugs only: if this run rewrote both without a
        # single change, the product's users are already right.
        reports = [outcome.reports.get((name, pid)) for name in ("tests", "bugs")]
        return all(r is not None and not r.counts.changed for r in reports)

    # `users` is rebuilt for groups of products, not product by product: one rebuild
    # statement for many products costs little more than one for a single product, and
    # nothing waits for users. A group goes when it is full or no chain is left to join.
    users_group: list[int] = []
    chains_left = len(product_ids) if "users" in selected else 0

    async def rebuild_users(pids: list[int]) -> None:
        await asyncio.gather(
            *(
                attempt(
                    "users",
                    pid,
                    lambda pid=pid: users.sync_users(db, pid, now, not sources_unchanged(pid)),
                )
                for pid in pids
            )
        )

    def chain_ended(pid: int, users_ready: bool, group: asyncio.TaskGroup) -> None:
        nonlocal chains_left
        chains_left -= 1
        if users_ready:
            users_group.append(pid)
        if users_group and (len(users_group) >= USERS_GROUP or chains_left == 0):
            group.create_task(rebuild_users(users_group.copy()))
            users_group.clear()

    async def chain(session: ApiSession, pid: int, group: asyncio.TaskGroup) -> None:
        steps: dict[str, Callable[[], Awaitable[StepReport]]] = {
            "tests": lambda: tests.sync_tests(session, db, pid, now),
            "bugs": lambda: bugs.sync_bugs(session, db, pid, now, parser),
        }
        failed: str | None = None
        for name in CHAIN:
            if name not in selected:
                continue
            if failed is not None:
                outcome.failures[(name, pid)] = f"not attempted: upstream {failed} failed"
            elif name in steps and not await attempt(name, pid, steps[name]):
                failed = name
        if "users" in selected:
            chain_ended(pid, failed is None, group)

    fresh: set[int] = set()
    if features_fresh_for is not None and "features" in selected:
        cutoff = now - features_fresh_for
        fresh = await db.read(lambda conn: features.products_with_fresh_features(conn, cutoff))
        outcome.fresh_features = sorted(fresh & set(product_ids))

    async def feature_step(session: ApiSession, pid: int) -> None:
        if pid in fresh:
            return
        await attempt("features", pid, lambda: features.sync_features(session, db, pid, now))

    # Products in flight at once: enough to keep every HTTP slot busy, few enough that
    # parsed data does not pile up in memory while it waits for the database.
    in_flight = asyncio.Semaphore(max(4, 4 * client.max_concurrency))

    async def one_product(session: ApiSession, pid: int, group: asyncio.TaskGroup) -> None:
        async with in_flight:
            steps = []
            if selected & set(CHAIN):
                steps.append(chain(session, pid, group))
            if "features" in selected:
                steps.append(feature_step(session, pid))
            await asyncio.gather(*steps)

    async with client.session() as session:
        try:
            async with asyncio.TaskGroup() as group:
                for pid in product_ids:
                    group.create_task(one_product(session, pid, group))
        except* TokenRefusedError as refused:
            raise refused.exceptions[0] from None
    return outcome


class ProductDataConfig(Config):
    """Run options of `product_data`."""

    skip_fresh_features: bool = Field(
        default=False,
        description=(
            "Keep features synced within FEATURE_CACHE_TTL_SECONDS without asking the API "
            "(what a plain `testio-assets sync` does). Off by default: materializing "
            "features from the UI always re-reads them."
        ),
    )


def inactive_products(conn: DuckDBPyConnection) -> set[int]:
    rows = conn.execute("SELECT id FROM products WHERE NOT is_active").fetchall()
    return {int(row[0]) for row in rows}


def _spec(
    name: str, deps: list[str], description: str, freshness: FreshnessPolicy | None = None
) -> AssetSpec:
    return AssetSpec(
        name,
        deps=deps,
        description=description,
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        skippable=True,
        partitions_def=product_partitions,
        freshness_policy=freshness,
        metadata={"dagster/column_schema": column_schema(name), "dagster/table_name": name},
    )


def build_product_data_asset(feature_ttl_seconds: int) -> AssetsDefinition:
    """The multi-asset, with the `features` freshness window taken from the settings."""
    ttl = timedelta(seconds=feature_ttl_seconds)
    # Dagster refuses freshness windows under a minute; the sensor still uses the real TTL.
    policy_window = max(ttl, MIN_FRESHNESS_WINDOW)
    specs = [
        _spec("tests", ["products"], tests.DESCRIPTION),
        _spec("bugs", ["tests"], bugs.DESCRIPTION),
        _spec(
            "features",
            ["products"],
            features.DESCRIPTION,
            FreshnessPolicy.time_window(fail_window=policy_window),
        ),
        _spec("users", ["tests", "bugs"], users.DESCRIPTION),
    ]

    @multi_asset(
        name="product_data",
        specs=specs,
        partitions_def=product_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        description="Syncs tests, bugs, features and users for one or many products at once.",
    )
    def product_data(
        context: AssetExecutionContext,
        config: ProductDataConfig,
        testio: TestIOClient,
        store: DuckDBStore,
    ) -> Iterator[AssetMaterialization]:
        selected = {key.path[-1] for key in context.selected_asset_keys}
        product_ids = [int(key) for key in context.partition_keys]
        context.log.info(
            "syncing %s for %d product(s)", ", ".join(sorted(selected)), len(product_ids)
        )
        # The sync runs on its own thread; materializations are reported here as each
        # product finishes, so Dagster's event writes overlap with the HTTP work.
        finished: queue.Queue[tuple[str, int, StepReport] | None] = queue.Queue()
        result: list[PartitionOutcome | BaseException] = []

        def work() -> None:
            try:
                result.append(
                    asyncio.run(
                        sync_product_partitions(
                            testio,
                            store,
                            product_ids,
                            selected,
                            datetime.now(UTC),
                            ttl if config.skip_fresh_features else None,
                            lambda name, pid, report: finished.put((name, pid, report)),
                        )
                    )
                )
            except BaseException as exc:  # handed to the step's thread below
                result.append(exc)
            finally:
                finished.put(None)

        worker = threading.Thread(target=work, name="testio-sync", daemon=True)
        with relaxed_gc():
            worker.start()
            while (item := finished.get()) is not None:
                name, pid, report = item
                # One event per asset and partition, each with its own figures; the step
                # yields no outputs, so partitions that failed are not reported as stored.
                yield AssetMaterialization(
                    asset_key=AssetKey(name), partition=str(pid), metadata=report.metadata()
                )
            worker.join()
        outcome = result[0]
        if isinstance(outcome, TokenRefusedError):
            raise Failure(description=str(outcome), allow_retries=False)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome.failures:
            lines = [
                f"product {pid} {name}: {why}"
                for (name, pid), why in sorted(
                    outcome.failures.items(), key=lambda item: (item[0][1], item[0][0])
                )
            ]
            raise Failure(
                description=(
                    f"{len(outcome.failed_products)} of {len(product_ids)} product(s) "
                    f"failed; the others were stored.\n" + "\n".join(lines)
                ),
                metadata={"failed_products": MetadataValue.json(outcome.failed_products)},
            )

    return product_data
