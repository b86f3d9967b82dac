"""What the store's own work costs on the installed DuckDB: the figure behind the choice of
DuckDB version (docs/architecture.md, docs/benchmarks.md).

    .venv/bin/python -m tools.duckdb_version_cost STORE            # the pinned DuckDB
    /tmp/duckdb2/bin/python -m tools.duckdb_version_cost STORE     # another DuckDB's venv

Loads the `large` profile's bugs of 60 products through the real writer (one transaction
per batch, as a sync does), and rebuilds every analytics table for every product of STORE
(a copy of a synced store, such as the benchmark's: 225 products), with one DuckDB
thread, and prints the DuckDB version and the best of three of each.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from testio_assets.simulator.data import SimulatedAccount
from testio_assets.simulator.profiles import profile_for
from testio_assets.store.analytics import HealthThresholds, refresh
from testio_assets.store.analytics_sql import QUERIES
from tools.bench.loads import bug_load_rate


def analytics_seconds(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds to rebuild every analytics table for every stored product."""
    conn = duckdb.connect(str(path))
    conn.execute("SET threads = 1")
    ids = [row[0] for row in conn.execute("SELECT id FROM products").fetchall()]
    wall, cpu = time.perf_counter(), time.process_time()
    for table in QUERIES:
        conn.execute("BEGIN")
        refresh(conn, table, ids, HealthThresholds())
        conn.execute("COMMIT")
    result = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="a synced DuckDB file (copied, not changed)")
    args = parser.parse_args()
    account = SimulatedAccount(profile_for("large", None), 7)
    loads, rebuilds = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as work:
            rows, seconds = bug_load_rate(account, Path(work))
            loads.append((seconds, rows))
            copy = Path(work) / "copy.duckdb"
            shutil.copy(args.store, copy)
            rebuilds.append(analytics_seconds(copy))
    seconds, rows = min(loads)
    print(f"DuckDB {duckdb.__version__} ({datetime.now(UTC):%Y-%m-%d})")
    print(f"  bug rows written     {rows:,} in {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")
    wall, cpu = min(rebuilds)
    print(f"  analytics rebuilt    {len(QUERIES)} tables in {wall:.2f} s ({cpu:.2f} s CPU)")


if __name__ == "__main__":
    main()
