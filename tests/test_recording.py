"""A refresh records in Dagster what changed, what did not pass, and a daily record of the
rest (`testio_assets/assets/recording.py`), with the simulator over HTTP and the pipeline's
own definitions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
)

from testio_assets.checks.definitions import CheckOutcome, checks_of
from testio_assets.defs.assets.recording import RecordPolicy, changes_policy, record_window
from testio_assets.defs.automation.partition_records import unsettled_check_partitions
from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.names import (
    ANALYTICS,
    BUGS,
    CHAIN,
    FEATURES,
    PRODUCT_QUALITY_SUMMARY,
    PRODUCTS,
    TESTS,
    USERS,
)
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from testio_assets.store.merge import WriteCounts
from testio_assets.sync.report import StepReport
from tests.pipeline_helpers import pipeline_for, query, sync

PER_PRODUCT_CHECKS = [
    AssetCheckKey(AssetKey(asset), check.name)
    for asset in (TESTS, BUGS, USERS, FEATURES)
    for check in checks_of(asset)
]


def _recorded(instance: DagsterInstance, run_ids: list[str]) -> dict[str, set[str]]:
    """Per asset (and per check, as `asset:check`), the partitions the runs recorded."""
    seen: dict[str, set[str]] = defaultdict(set)
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id).records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            if event.is_step_materialization:
                materialization = event.step_materialization_data.materialization
                seen[materialization.asset_key.path[-1]].add(materialization.partition or "")
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                check = event.event_specific_data
                seen[f"{check.asset_key.path[-1]}:{check.check_name}"].add(check.partition or "")
    return dict(seen)


def _planned(instance: DagsterInstance, run_ids: list[str]) -> set[str]:
    """The checks (`asset:check`) the runs planned when they were created."""
    planned = set()
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id).records:
            event = record.event_log_entry.dagster_event
            if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION_PLANNED":
                check = event.event_specific_data
                planned.add(f"{check.asset_key.path[-1]}:{check.check_name}")
    return planned


def _rows_by_product(db: Path, table: str) -> dict[int, list[tuple[Any, ...]]]:
    """The table's rows per product, without the sync's own timestamps."""
    columns = {
        TESTS: "* EXCLUDE (synced_at, bugs_synced_at)",
        BUGS: "* EXCLUDE (synced_at)",
        USERS: "*",
    }[table]
    rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in query(db, f"SELECT product_id, {columns} FROM {table} ORDER BY ALL"):
        rows[row[0]].append(row)
    return dict(rows)


def test_a_refresh_without_changes_records_only_the_catalogue(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    first = sync(defs, instance)
    products = {str(p.id) for p in simulator.account.active_products()}
    assert _recorded(instance, first.run_ids)[TESTS] == products
    per_product = {f"{c.asset_key.path[-1]}:{c.name}" for c in PER_PRODUCT_CHECKS}
    simulator.app.reset_counts()
    summary = sync(defs, instance)
    assert summary.failure is None
    # Everything was read and checked; only the catalogue and the run's verdict on each
    # check are recorded again, and the analytics of unchanged products are not rebuilt.
    # (Fresh features are not read, so not checked either.)
    verdicts = {key for key in per_product if not key.startswith(FEATURES)}
    recorded = _recorded(instance, summary.run_ids)
    catalogue = {PRODUCTS} | {f"{PRODUCTS}:{c.name}" for c in checks_of(PRODUCTS)}
    assert set(recorded) == catalogue | verdicts
    assert all(recorded[key] == {""} for key in verdicts)  # the verdicts: no partition
    assert summary.requests == sum(simulator.requests.values()) > 0
    # No check was planned, none left unevaluated (it would show as skipped in the UI).
    assert not _planned(instance, summary.run_ids) & per_product
    assert unsettled_check_partitions(instance, PER_PRODUCT_CHECKS) == set()


def test_a_refresh_records_exactly_the_partitions_that_changed(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    before = {table: _rows_by_product(db, table) for table in CHAIN}
    simulator.advance(3)
    summary = sync(defs, instance)
    assert summary.failure is None
    after = {table: _rows_by_product(db, table) for table in CHAIN}
    recorded = _recorded(instance, summary.run_ids)
    changed_any: set[str] = set()
    for table in CHAIN:
        changed = {
            str(pid)
            for pid in set(before[table]) | set(after[table])
            if before[table].get(pid) != after[table].get(pid)
        }
        assert changed, f"the simulator changed no {table}: the test shows nothing"
        assert recorded.get(table, set()) == changed, table
        for check in checks_of(table):  # all passed: the run's verdict, no partition's own
            assert recorded.get(f"{table}:{check.name}", set()) == {""}, check.name
        changed_any |= changed
    assert recorded[PRODUCT_QUALITY_SUMMARY] == recorded[TESTS] | recorded[BUGS]
    for name in ANALYTICS:  # the tables spanning products: once, for the run
        if name != PRODUCT_QUALITY_SUMMARY:
            assert recorded[name] == {""}, name
    assert unsettled_check_partitions(instance, PER_PRODUCT_CHECKS) == set()


def test_a_partition_is_due_when_unrecorded_for_the_window_or_its_check_did_not_pass(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    keys = instance.get_dynamic_partitions("products")
    now, day = datetime.now(UTC), timedelta(days=1)
    assert changes_policy(instance, CHAIN, [*keys, "999"], now, day).due == {
        name: frozenset({"999"})
        for name in CHAIN  # never recorded
    }
    later = changes_policy(instance, CHAIN, keys, now + 2 * day, day)
    assert later.due == {name: frozenset(keys) for name in CHAIN}

    # A failed check recorded for one partition of `bugs` makes it due; its next refresh,
    # unchanged, records it again with the check passing, and then it is not due.
    check = checks_of(BUGS)[0]
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=AssetKey(BUGS), check_name=check.name, passed=False, partition=keys[0]
        )
    )
    assert changes_policy(instance, CHAIN, keys, now, day).due[BUGS] == {keys[0]}
    summary = sync(defs, instance)
    assert _recorded(instance, summary.run_ids).get(BUGS) == {keys[0]}
    assert changes_policy(instance, CHAIN, keys, datetime.now(UTC), day).due[BUGS] == set()


def _report(changed: bool = False, passed: bool = True) -> StepReport:
    check = checks_of(TESTS)[0]
    outcome = CheckOutcome(TESTS, check.name, product_id=1, passed=passed, description="")
    return StepReport(counts=WriteCounts(created=int(changed)), checks=[outcome])


def test_the_policy_records_changes_failures_and_what_is_due() -> None:
    policy = RecordPolicy({TESTS: frozenset({"2"})})
    assert not policy.records(TESTS, 1, _report())
    assert policy.records(TESTS, 1, _report(changed=True))
    assert policy.records(TESTS, 1, _report(passed=False))
    assert policy.records(TESTS, 2, _report())  # due
    assert policy.records(FEATURES, 1, _report())  # not recorded on change only
    assert RecordPolicy().records(TESTS, 1, _report())  # records everything


def test_the_window_stays_inside_the_run_history_kept() -> None:
    assert record_window(7) == timedelta(days=1)
    assert record_window(1) == timedelta(hours=12)
    assert record_window(0) == timedelta(days=1)  # history kept forever
    assert record_window(7, every_hours=0.5) == timedelta(minutes=30)
    assert record_window(7, every_hours=400) == timedelta(days=3.5)


def test_a_refresh_failing_on_one_product_records_the_others_so_only_it_shows_failed(
    simulator: SimulatorServer, db: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster marks every partition a failed run planned and did not materialize as
    failed: when a product fails, the refresh records the unchanged ones after all."""
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    keys = [str(p.id) for p in simulator.account.active_products()]
    denied = keys[1]
    simulator.arm(
        Fault(endpoint="exploratory_tests", status=403, product_id=int(denied), times=None)
    )
    summary = sync(defs, instance)
    assert summary.failed_products == [int(denied)]
    recorded = _recorded(instance, summary.run_ids)
    assert recorded[TESTS] == set(keys) - {denied}
    status = instance.get_status_by_partition(AssetKey(TESTS), keys, product_partitions)
    assert status is not None
    failed = {key for key, value in status.items() if value == AssetPartitionStatus.FAILED}
    assert failed == {denied}
