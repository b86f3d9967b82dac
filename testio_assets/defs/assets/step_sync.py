"""The sync part of the product step: plan it from the run, run the engine beside the
step, and turn its reports into Dagster events as they arrive."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, DagsterInstance, Failure

from testio_assets.api.client import TestIOClient
from testio_assets.api.errors import TokenRefusedError
from testio_assets.checks.run import CheckPlan
from testio_assets.defs.assets.check_events import all_checks, target_lookup, wanted_checks
from testio_assets.defs.assets.metadata import change_summary
from testio_assets.defs.assets.recording import RecordPolicy, changes_policy
from testio_assets.defs.assets.step_checks import StepChecks
from testio_assets.defs.assets.step_records import StepRecords
from testio_assets.names import PER_PRODUCT, REQUESTS_TAG
from testio_assets.store.database import DuckDBStore
from testio_assets.sync.background import BackgroundSync
from testio_assets.sync.engine import SyncPlan, sync_product_partitions
from testio_assets.sync.gc_tuning import relaxed_gc
from testio_assets.sync.progress import Progress
from testio_assets.sync.report import PartitionOutcome

if TYPE_CHECKING:
    from testio_assets.defs.assets.product_data import ProductDataConfig

BACKFILL_TAG = "dagster/backfill"  # set by Dagster on every run of a backfill


@dataclass(frozen=True)
class StepPlan:
    """What the run asks of the step."""

    selected: frozenset[str]
    partitioned: bool
    product_ids: list[int]
    planned_checks: dict[str, frozenset[str]]
    sync: SyncPlan
    changes_only: bool
    record_every: timedelta
    range_output: bool
    single: bool  # a run of one partition (not a range of one): results are its own

    @property
    def data(self) -> frozenset[str]:
        return self.selected & frozenset(PER_PRODUCT)

    @property
    def syncs(self) -> bool:
        """Whether the engine has work: data to sync, or checks to run on what is stored."""
        return bool(self.data) or bool(self.planned_checks)

    @classmethod
    def of(
        cls,
        context: AssetExecutionContext,
        config: ProductDataConfig,
        ttl: timedelta,
        record_every: timedelta,
        event_batches: bool,
    ) -> StepPlan:
        selected = frozenset(key.path[-1] for key in context.selected_asset_keys)
        partitioned = context.has_partition_key or context.has_partition_key_range
        product_ids = [int(key) for key in context.partition_keys] if partitioned else []
        planned = wanted_checks(context.selected_asset_check_keys)
        data = selected & frozenset(PER_PRODUCT)
        checks = {**(all_checks(data) if config.checks else {}), **planned}
        now = datetime.now(UTC)
        sync = SyncPlan(
            product_ids=product_ids,
            selected=data,
            now=now,
            features_fresh_for=ttl if config.skip_fresh_features else None,
            full_listing=config.full_listing or BACKFILL_TAG in context.run.tags,
            checks=CheckPlan(checks, ttl, now),
        )
        range_output = event_batches and stores_batches(context.instance)
        return cls(
            selected, partitioned, product_ids, planned, sync, config.changes_only,
            record_every, range_output, context.has_partition_key,
        )  # fmt: skip


def stores_batches(instance: DagsterInstance) -> bool:
    """Whether the event log writes a batch of events at once (dagster-postgres, the
    plugin's storage); Dagster's own SQLite storage writes a batch one event at a time."""
    storage = type(instance.event_log_storage)
    return "Postgres" in storage.__name__ or storage.__module__.startswith("testio_assets.instance")


@dataclass
class StepResult:
    """What the sync part leaves for the analytics and the step's verdict."""

    recorded: list[tuple[str, int]] = field(default_factory=list)
    checked: set[int] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)
    failed_products: list[int] = field(default_factory=list)
    failure_lines: list[str] = field(default_factory=list)


def sync_and_record(
    context: AssetExecutionContext, plan: StepPlan, testio: TestIOClient, store: DuckDBStore
) -> Generator[Any, None, StepResult]:
    """Sync the run's products and yield their materializations and check events."""
    instance = context.instance
    policy = (
        changes_policy(instance, plan.data, map(str, plan.product_ids), plan.sync.now,
                       plan.record_every)
        if plan.changes_only
        else RecordPolicy()
    )  # fmt: skip
    records = StepRecords(policy, plan.product_ids, plan.range_output)
    checks = StepChecks.for_run(
        instance,
        plan.sync.checks.wanted,
        plan.planned_checks,
        single=plan.single,
        targets=target_lookup(instance),
        hold=plan.range_output,
    )
    context.log.info(
        "syncing %s for %d product(s)%s",
        ", ".join(sorted(plan.data)) or "nothing",
        len(plan.product_ids),
        f"; checking {', '.join(plan.sync.checked_only)} only" if plan.sync.checked_only else "",
    )
    sync = BackgroundSync(partial(sync_product_partitions, testio, store, plan.sync))
    progress = Progress.of(plan.data, len(plan.product_ids))
    requests = 0
    with relaxed_gc():
        for name, pid, report in sync:
            requests += report.requests
            if name in progress.expected:
                progress.add(name, report)
                if progress.due():
                    context.log.info(progress.line())
            yield from records.add(name, pid, report)
            if report.checks:
                yield from checks.add(report.checks, sync.has_ready())
    try:
        outcome = sync.result()
    except TokenRefusedError as refused:
        raise Failure(description=str(refused), allow_retries=False) from None
    instance.add_run_tags(context.run_id, {REQUESTS_TAG: str(requests)})
    context.log.info(change_summary(outcome))
    _log_unrecorded(context, records, policy)
    yield from records.finish(outcome)
    yield from checks.verdicts()
    return _result(outcome, records, checks)


def _log_unrecorded(
    context: AssetExecutionContext, records: StepRecords, policy: RecordPolicy
) -> None:
    if records.unrecorded:
        context.log.info(
            "%d partition(s) unchanged, checks passed and recorded within %g h: not "
            "recorded again (testio_assets/defs/assets/recording.py)",
            len(records.unrecorded),
            policy.window.total_seconds() / 3600,
        )


def _result(outcome: PartitionOutcome, records: StepRecords, checks: StepChecks) -> StepResult:
    blocking = checks.blocking_failures()
    blocked = set(blocking)
    lines = outcome.failure_lines()
    lines += [
        f"product {pid}: the blocking check {failure}"
        for pid in sorted(blocking)
        for failure in blocking[pid]
    ]
    return StepResult(
        recorded=list(records.recorded),
        checked=checks.checked_products(),
        blocked=blocked,
        failed_products=sorted(set(outcome.failed_products) | blocked),
        failure_lines=lines,
    )
