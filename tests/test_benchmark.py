"""The benchmark in its reduced form (small data, low latency), so that it cannot rot.

Speed targets are read off the full run's printed table (docs/benchmarks.md), not asserted
here; what is asserted is what must hold at any speed: the table is printed, a cold sync
makes exactly the requests a perfect client needs, and a no-change refresh stays within
what the overlap rule and the changeable tests allow.

One run, on the options that take the most of the bench's code (a throwaway PostgreSQL
server for Dagster's stock storage and for the lake's catalog); the default instance and
store are what every other test syncs with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.parametrize(("instance", "store"), [("postgres-stock", "lake")])
def test_the_reduced_benchmark_prints_its_table(
    tmp_path: Path, instance: str, store: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("postgres_server")  # skipped where the tests skip Postgres
    result = subprocess.run(
        [
            str(BIN / "testio-assets"),
            "bench",
            "--profile",
            "demo",
            "--products",
            "7",  # the demo shape with 7 products instead of 5: `--products` works
            "--latency-ms",
            "5",
            "--sensor-partitions",
            "300",
            "--instance",
            instance,
            "--store",
            store,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    out = result.stdout
    print(out)
    for label in (
        "1. cold full sync",
        "lower bound",
        "floor",
        "wall / floor",
        "2. no-change refresh",
        "3. stale-features sensor tick",
        "4. DuckDB load rate",
        "CPU per 1,000 rows stored",
        "DuckDB (database thread)",
        "5. peak RSS",
        "6. DuckLake data files" if store == "lake" else "6. DuckDB file",
        "7. Dagster events per no-change refresh",
    ):
        assert label in out
    assert out.startswith("profile demo (seed 7): 7 products")
    assert f"Dagster instance: {instance}; store: {store}\n" in out
    figures = json.loads(out.split("BENCH_JSON ", 1)[1])
    assert figures["cold_requests"] == figures["needed_requests"] == figures["floor_requests"]
    assert figures["refresh_requests"] <= figures["refresh_allowed"]
    assert figures["refresh_requests"] < figures["cold_requests"]
    assert figures["peak_rss_mib"] > 0 and figures["bug_rows_per_s"] > 0
    assert figures["rows_stored"] > 0 and figures["cpu_per_1000_rows_s"] > 0
    # A no-change refresh records the catalogue and its runs, less than the day's one
    # refresh that records every partition again, by at least a materialization per
    # product and asset (7 products here: 78 and 115 events, both with the six planned
    # events per product Dagster writes when it creates a run); a day is 95 + 1 refreshes
    # and 24 of features.
    assert 0 < figures["events_per_refresh"]
    assert figures["events_per_rerecord"] - figures["events_per_refresh"] >= 7 * 4
    assert figures["events_per_features_refresh"] > 0
    assert figures["events_per_day"] == (
        95 * figures["events_per_refresh"]
        + figures["events_per_rerecord"]
        + 24 * figures["events_per_features_refresh"]
    )
