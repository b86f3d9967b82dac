"""A simulated day of the DuckLake store, and what its upkeep leaves: `docs/benchmarks.md`.

    .venv/bin/python -m tools.lake_day [--profile small] [--refreshes 96] [--feature-refreshes 24]

A day at the default intervals is 96 scheduled refreshes (every 15 minutes) and 24 feature
refreshes (TTL one hour) after the day's changes upstream. The syncs run in this process
through Dagster (an ephemeral instance), into a DuckLake whose catalog is a database on a
throwaway PostgreSQL server on loopback and whose data files are in a temp directory.
Printed: data files, their size, snapshots and the catalog database's size after the first
sync, after the day, and after the `lake_maintenance` job's work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dagster import DagsterInstance

from testio_assets.commands.runs import run_sync
from testio_assets.defs.pipeline import build_definitions
from testio_assets.settings import Settings
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.database import DuckDBStore
from testio_assets.store.lake import LakeFigures, lake_figures
from tools.throwaway_postgres import ThrowawayPostgres, throwaway_postgres


def catalog_mib(server: ThrowawayPostgres, database: str) -> float:
    size = subprocess.run(
        [
            str(server.bin_dir / "psql"),
            server.url(database),
            "-Atc",
            f"SELECT pg_database_size('{database}')",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(size.strip()) / 2**20


def line(label: str, figures: LakeFigures, catalog: float) -> str:
    return (
        f"{label:<34}{figures.files:>8,} files {figures.bytes / 2**20:>8.1f} MiB "
        f"{figures.snapshots:>7,} snapshots   catalog {catalog:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--refreshes", type=int, default=96)
    parser.add_argument("--feature-refreshes", type=int, default=24)
    args = parser.parse_args()
    with (
        throwaway_postgres() as server,
        SimulatorServer(args.profile, seed=7) as api,
        tempfile.TemporaryDirectory() as work,
        DagsterInstance.ephemeral() as instance,
    ):
        database = "lake_day"
        catalog = server.create_database(database)
        # Dagster's resources read the token and the catalog's URL through EnvVar.
        os.environ.update(TESTIO_API_TOKEN=api.token, TESTIO_DUCKLAKE_CATALOG=catalog)

        def settings(ttl: int = 3600) -> Settings:
            return Settings(
                api_token=api.token,
                base_url=api.base_url,
                duckdb_path=str(Path(work) / "unused.duckdb"),
                ducklake_catalog=catalog,
                ducklake_data_path=str(Path(work) / "lake") + "/",
                feature_ttl_seconds=ttl,
            )

        day, stale = build_definitions(settings()), build_definitions(settings(ttl=1))
        store = DuckDBStore(
            path=str(Path(work) / "unused.duckdb"),
            lake_catalog=catalog,
            lake_data_path=str(Path(work) / "lake") + "/",
        )

        def figures() -> LakeFigures:
            with store.writing() as writer:
                return writer.run(lake_figures)

        started = time.monotonic()
        run_sync(day, instance)
        first = figures()
        print(f"profile {args.profile}: {api.account.counts()}")
        print(line("after the first sync", first, catalog_mib(server, database)))
        api.advance(1)  # the day's changes upstream
        every = max(args.refreshes // max(args.feature_refreshes, 1), 1)
        for number in range(args.refreshes):
            features_due = number % every == 0 and number // every < args.feature_refreshes
            run_sync(stale if features_due else day, instance)
        after_day = figures()
        print(
            line(
                f"after {args.refreshes} + {args.feature_refreshes} refreshes",
                after_day,
                catalog_mib(server, database),
            )
        )
        _, upkept = store.maintain_lake(timedelta(0))
        print(line("after lake_maintenance", upkept, catalog_mib(server, database)))
        print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
