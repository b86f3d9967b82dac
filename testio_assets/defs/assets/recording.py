"""Which partitions a refresh records in Dagster: what changed, what did not pass, and a
daily record of the rest.

A scheduled refresh re-reads every product's changeable tests and bugs every 15 minutes,
and most products have not changed since the last one. Recording each of them anyway (a
materialization of `tests`, `bugs` and `users`, their check evaluations, and through
`AutomationCondition.eager()` the four analytics tables rebuilt) made about 21 Dagster
events per product per refresh: 3 GiB of instance storage a day for 225 products, 27 GiB
for 2,000 (docs/benchmarks.md). A refresh that records changes only
(`ProductDataConfig.changes_only`, set by the refresh schedule and a plain `testio-assets
sync`) records a `tests`, `bugs` or `users` partition, with its check evaluations, when:

- its stored rows changed (rows created, updated or removed), or records were skipped;
- one of its checks did not pass now, or its latest recorded check execution did not
  pass (so a failure shown in the UI is cleared once it passes);
- it has no materialization recorded within `record_window` (`TESTIO_RECORD_EVERY_HOURS`,
  a day): every partition stays recorded within the run history that
  `run_history_sensor` keeps, and the UI shows each product verified at least daily.

Everything else is synced and checked as before; it is only not written to Dagster's
history again, and the analytics of an unchanged product are not rebuilt. The run plans
no checks for these assets (a planned check left unevaluated would show as skipped), and
the step evaluates every check of them (`ProductDataConfig.unplanned_checks`). `features`
is always recorded when read from the API: its materialization is the time the freshness
sensor measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dagster import AssetCheckKey, AssetKey, DagsterInstance

from testio_assets.checks.definitions import checks_of
from testio_assets.defs.automation.partition_records import (
    freshness_cut,
    latest_storage_ids,
    unsettled_check_partitions,
)
from testio_assets.names import BUGS, DEFAULT_RECORD_EVERY_HOURS, TESTS, USERS
from testio_assets.sync.report import StepReport

RECORDED_ON_CHANGE = frozenset({TESTS, BUGS, USERS})
DEFAULT_WINDOW = timedelta(hours=DEFAULT_RECORD_EVERY_HOURS)


def record_window(
    run_history_days: int, every_hours: float = DEFAULT_RECORD_EVERY_HOURS
) -> timedelta:
    """How long an unchanged partition may go unrecorded: `every_hours`
    (`TESTIO_RECORD_EVERY_HOURS`), at most half the run history kept, so that its last
    record is never deleted with its run."""
    window = timedelta(hours=every_hours)
    return min(window, timedelta(days=run_history_days) / 2) if run_history_days else window


@dataclass(frozen=True)
class RecordPolicy:
    """Whether a report of (asset, product) is recorded. `due`: per asset recorded on
    change, the partitions recorded whatever happened (None: record everything);
    `window`: how long an unchanged partition may go unrecorded."""

    due: dict[str, frozenset[str]] | None = None
    window: timedelta = DEFAULT_WINDOW

    def records(self, asset: str, product_id: int, report: StepReport) -> bool:
        if self.due is None or asset not in self.due:
            return True
        return (
            report.counts.changed
            or bool(report.skipped_records)
            or any(not outcome.passed for outcome in report.checks)
            or str(product_id) in self.due[asset]
        )


def changes_policy(
    instance: DagsterInstance,
    assets: Iterable[str],
    partitions: Iterable[str],
    now: datetime,
    window: timedelta,
) -> RecordPolicy:
    """The policy of a refresh that records changes only, for `assets` over `partitions`:
    two look-ups per asset and one per check in the event log, whatever the account."""
    keys = list(partitions)
    due: dict[str, frozenset[str]] = {}
    for asset in sorted(set(assets) & RECORDED_ON_CHANGE):
        asset_key = AssetKey(asset)
        latest = latest_storage_ids(instance, asset_key)
        cut = freshness_cut(instance, asset_key, now - window)
        checks = [AssetCheckKey(asset_key, check.name) for check in checks_of(asset)]
        unsettled = unsettled_check_partitions(instance, checks) if checks else set()
        due[asset] = frozenset(
            key
            for key in keys
            if key not in latest or cut is None or latest[key] < cut or key in unsettled
        )
    return RecordPolicy(due, window)
