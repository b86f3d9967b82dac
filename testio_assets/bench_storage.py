"""How much Dagster stores per run, and what that makes per day: `testio-assets bench`.

The benchmark reads the instance's footprint (event-log rows and bytes on disk or in the
database) between its syncs; the difference made by one no-change refresh with its
analytics, and by one refresh of every product's features, gives the growth per day at
the default intervals: the schedule every 15 minutes (96 refreshes a day, each followed by
the analytics of every product), and every product's features once per TTL (24 a day at
the default hour). The shipped retention settings purge sensor and schedule ticks, not
run history, so the event log grows by that much every day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from testio_assets.bench_instance import instance_of

if TYPE_CHECKING:
    from dagster import DagsterInstance

REFRESHES_PER_DAY = 24 * 60 // 15
FEATURE_REFRESHES_PER_DAY = 24


@dataclass(frozen=True)
class Footprint:
    event_rows: int
    bytes: int

    def __sub__(self, other: Footprint) -> Footprint:
        return Footprint(self.event_rows - other.event_rows, self.bytes - other.bytes)


def footprint(env: dict[str, str]) -> Footprint:
    """The event-log rows of the instance that `env` names (DAGSTER_HOME, maybe a
    PostgreSQL URL), read through Dagster, and its size on disk when it is SQLite files
    (bytes 0 for PostgreSQL: the server's files are shared with other databases)."""
    with instance_of(env) as instance:
        rows = sum(_events_of(instance, r.dagster_run.run_id) for r in instance.get_run_records())
    if env.get("TESTIO_DAGSTER_POSTGRES_URL"):
        return Footprint(rows, 0)
    home = Path(env["DAGSTER_HOME"])
    # SQLite's write-ahead logs come and go with checkpoints: the database files count.
    files = [p for p in home.rglob("*.db") if p.is_file()]
    return Footprint(rows, sum(p.stat().st_size for p in files))


def _events_of(instance: DagsterInstance, run_id: str) -> int:
    count, cursor = 0, None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, limit=10_000)
        count += len(page.records)
        if not page.has_more:
            return count
        cursor = page.cursor


def per_day(refresh_with_analytics: Footprint, features: Footprint) -> Footprint:
    """Growth per day from one refresh with analytics and one refresh of all features."""
    return Footprint(
        refresh_with_analytics.event_rows * REFRESHES_PER_DAY
        + features.event_rows * FEATURE_REFRESHES_PER_DAY,
        refresh_with_analytics.bytes * REFRESHES_PER_DAY
        + features.bytes * FEATURE_REFRESHES_PER_DAY,
    )
