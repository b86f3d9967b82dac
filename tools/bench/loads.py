"""The benchmark's measurements outside a sync: the sensor's tick, DuckDB's load rate."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testio_assets.simulator.data import SimulatedAccount
from tools.bench.instance import BenchInstance


def sensor_tick_seconds(partitions: int, kind: BenchInstance) -> float:
    """Best of three ticks of the stale-features core over `partitions` partitions."""
    from dagster import AssetKey, AssetMaterialization

    from testio_assets.defs.automation.partitions import sync_partitions
    from testio_assets.defs.automation.sensors import evaluate_stale_features

    with tempfile.TemporaryDirectory() as home, kind.open(Path(home)) as instance:
        keys = [str(100000 + i) for i in range(partitions)]
        sync_partitions(instance, keys)
        for key in keys[: partitions // 2]:
            instance.report_runless_asset_event(
                AssetMaterialization(AssetKey("features"), partition=key)
            )
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            evaluate_stale_features(instance, timedelta(hours=1), datetime.now(UTC), 50)
            best = min(best, time.perf_counter() - started)
        return best


def bug_load_rate(account: SimulatedAccount, workdir: Path, limit: int = 60) -> tuple[int, float]:
    """Bug rows written per second by the real writer, product by product."""
    from testio_assets.api.models import Bug
    from testio_assets.store.database import DuckDBStore
    from testio_assets.store.queries import table_counts
    from testio_assets.store.rows import bug_rows, skipped_rows
    from testio_assets.store.session import store_session
    from testio_assets.store.writers import BugsWrite, write_bugs

    store = DuckDBStore(path=str(workdir / "load.duckdb"))
    now = datetime.now(UTC)
    staged = []
    for product in account.active_products()[:limit]:
        tests = [t.id for t in product.tests]
        bugs = [
            Bug.model_validate(account.bug_json(b)) for t in tests for b in account.bugs_by_test[t]
        ]
        staged.append((product.id, tests, bug_rows(product.id, bugs, now)))
    rows = sum(table.num_rows for _, _, table in staged)

    async def load() -> float:
        async with store_session(store) as db:
            await db.read(table_counts)  # open and migrate before the clock starts
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    db.write_batched(
                        write_bugs,
                        BugsWrite(
                            product_id, tests, table, now, skipped_rows(product_id, "bugs", [], now)
                        ),
                    )
                    for product_id, tests, table in staged
                )
            )
            return time.perf_counter() - started

    return rows, asyncio.run(load())
