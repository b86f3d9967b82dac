"""Neither the sync nor its parse worker loads pandas or numpy.

pyarrow imports numpy whenever it is installed, and pandas on its first conversion of a
Python list: about 65 MiB in the sync process and again in its parse worker, for modules
nothing here uses (docs/benchmarks.md, "Where the memory goes"). This fails when either
comes back as a dependency, or when our code starts using them."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from testio_assets.api.models import Bug
from testio_assets.api.parsing import _shape_in_worker
from testio_assets.defs.assets.analytics_preview import metadata_by_product
from testio_assets.names import ANALYTICS
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.analytics import HealthThresholds, refresh, rows_of
from testio_assets.store.database import DuckDBStore
from testio_assets.store.rows import bug_rows
from testio_assets.sync.engine import SyncPlan, sync_product_partitions
from testio_assets.sync.products import sync_products
from tests.conftest import client_for

UNUSED = ("pandas", "numpy")


def _loaded() -> set[str]:
    return {name for name in UNUSED if name in sys.modules}


def _shape_then_loaded(body: bytes) -> set[str]:
    """What the parse worker runs for a bug page, then which of UNUSED it has loaded."""
    _shape_in_worker(body, "bugs", Bug, partial(bug_rows, 1, now=datetime.now(UTC)))
    return _loaded()


def test_a_sync_with_analytics_and_its_parse_worker_load_neither_pandas_nor_numpy(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(simulator, parse_in_worker_from=1)
    store = DuckDBStore(path=str(tmp_path / "lean.duckdb"))
    now = datetime.now(UTC)
    asyncio.run(sync_products(client, store, now))
    ids = [p.id for p in simulator.account.active_products()]
    plan = SyncPlan(ids, frozenset({"tests", "bugs", "features", "users"}), now)
    assert not asyncio.run(sync_product_partitions(client, store, plan)).failures
    for table in ANALYTICS:
        counts = store.write(refresh, table, ids, HealthThresholds())
        previews = metadata_by_product(table, store.read(rows_of, table, ids), counts)
        assert all(previews[pid]["preview"].value for pid in ids)
    assert _loaded() == set()

    account = simulator.account
    bugs = next(bugs for bugs in account.bugs_by_test.values() if bugs)
    body = b'{"bugs":[' + b",".join(account.encoded_bug(b) for b in bugs) + b"]}"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as worker:
        assert worker.submit(_shape_then_loaded, body).result(60) == set()
