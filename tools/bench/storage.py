"""How much Dagster stores per run, and what that makes per day: `testio-assets bench`.

The benchmark reads the instance's footprint (event-log rows and bytes on disk or in the
database) between its syncs; the differences give the growth per day at the default
intervals: the schedule every 15 minutes, 96 refreshes a day, of which 95 find most
products unchanged and record only what changed (assets/recording.py), and one records
every partition again with the analytics that follows (`TESTIO_RECORD_EVERY_HOURS`, a
day); and every product's features once per TTL (24 a day at the default hour), with
their analytics. The shipped retention settings purge sensor and schedule ticks;
`run_history_sensor` deletes runs after `TESTIO_RUN_HISTORY_DAYS`, so the history holds
that many days of this growth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.bench.instance import instance_of

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


def per_day(quiet: Footprint, rerecord: Footprint, features: Footprint) -> Footprint:
    """Growth per day from a no-change refresh, the refresh that records everything again
    (with analytics) and a refresh of every product's features (with analytics)."""
    day = [(quiet, REFRESHES_PER_DAY - 1), (rerecord, 1), (features, FEATURE_REFRESHES_PER_DAY)]
    return Footprint(
        sum(part.event_rows * times for part, times in day),
        sum(part.bytes * times for part, times in day),
    )
