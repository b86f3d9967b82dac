"""product_discovery_sensor and the refresh_tests_and_bugs schedule, on a real instance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
    materialize,
)

from testio_assets.defs.automation.partitions import range_tags, sync_partitions
from testio_assets.defs.automation.schedules import build_refresh_schedule
from testio_assets.defs.automation.sensors import build_product_discovery_sensor
from testio_assets.names import ANALYTICS, ANALYTICS_UPSTREAM, PARTITIONED_ANALYTICS
from testio_assets.simulator.faults import Fault
from testio_assets.simulator.server import SimulatorServer
from tests.conftest import client_for
from tests.pipeline_helpers import pipeline_for, query, sync


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    # Schedules need a persistent instance (a temporary DAGSTER_HOME).
    with instance_for_test() as inst:
        yield inst


def test_discovery_adds_new_and_drops_vanished_products(
    simulator: SimulatorServer, instance: DagsterInstance
) -> None:
    known = [str(p.id) for p in simulator.account.active_products()]
    sync_partitions(instance, known)
    vanished = known[1]
    simulator.remove_product(int(vanished))
    new_id = simulator.add_product()
    sensor = build_product_discovery_sensor()
    context = build_sensor_context(instance=instance, resources={"testio": client_for(simulator)})
    result = sensor(context)
    assert isinstance(result, SensorResult)
    kinds = {
        type(r).__name__: list(r.partition_keys) for r in result.dynamic_partitions_requests or []
    }
    assert kinds == {
        "AddDynamicPartitionsRequest": [str(new_id)],
        "DeleteDynamicPartitionsRequest": [vanished],
    }
    runs = list(result.run_requests or [])
    # The catalogue is refreshed (marks the vanished product inactive) ...
    assert runs[0].asset_selection == [AssetKey("products")]
    # ... and the new product gets a first materialization of every per-product asset.
    assert runs[1].partition_key == str(new_id)
    selected = {k.path[-1] for k in runs[1].asset_selection}
    assert selected == {"tests", "bugs", "features", "users", *ANALYTICS}
    # Applying the requests, as the daemon does, leaves nothing more to do.
    sync_partitions(instance, [k for k in known if k != vanished] + [str(new_id)])
    assert isinstance(sensor(context), SkipReason)


def test_a_vanished_products_partition_waits_for_the_runs_that_target_it(
    simulator: SimulatorServer, instance: DagsterInstance
) -> None:
    """Dagster fails a queued run whose partition was deleted meanwhile, before our code
    can skip the product: the partition goes only once no run in flight targets it."""
    known = [str(p.id) for p in simulator.account.active_products()]
    sync_partitions(instance, known)
    vanished = known[1]
    simulator.remove_product(int(vanished))
    queued = DagsterRun(
        job_name="__ASSET_JOB",
        run_id="0" * 32,
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": vanished},
    )
    instance.add_run(queued)
    sensor = build_product_discovery_sensor()
    context = build_sensor_context(instance=instance, resources={"testio": client_for(simulator)})
    waiting = sensor(context)
    assert isinstance(waiting, SkipReason)
    assert f"removal of {vanished} waits for runs in flight" in (waiting.skip_message or "")

    instance.report_run_failed(instance.get_run_by_id(queued.run_id))  # the run ended
    # A run whose range only passes over the partition does not hold it back: Dagster
    # leaves a deleted key inside a range out.
    instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            run_id="1" * 32,
            status=DagsterRunStatus.STARTED,
            tags=range_tags(known[0], known[-1]),
        )
    )
    result = sensor(context)
    assert isinstance(result, SensorResult)
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests or []] == [
        [vanished]
    ]


def test_the_schedule_refreshes_every_partition_in_one_run(
    simulator: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    keys = instance.get_dynamic_partitions("products")
    schedule = build_refresh_schedule()
    request = schedule(
        build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 1, 1, tzinfo=UTC)
        )
    )
    assert request.partition_key is None  # a multi-partition run, addressed by its range:
    assert request.tags["dagster/asset_partition_range_start"] == keys[0]
    assert request.tags["dagster/asset_partition_range_end"] == keys[-1]
    # The data that can change, and the analytics of what changes (the step rebuilds them).
    selected = {k.path[-1] for k in request.asset_selection}
    assert selected == {"products", "tests", "bugs", "users", *ANALYTICS}
    # Only the catalogue's checks are planned: the per-product ones are evaluated by the
    # step and recorded as it decides (defs/assets/check_events.py).
    assert {k.asset_key.path[-1] for k in request.asset_check_keys or []} == {"products"}
    assert request.run_config["ops"]["product_data"]["config"] == {"changes_only": True}

    # Run what the schedule asked for, as the daemon would, after time moved on upstream.
    analytics = AssetSelection.assets(*ANALYTICS)
    before = evaluate_automation_conditions(defs, instance, analytics)
    simulator.advance(2)
    simulator.app.reset_counts()
    result = materialize(
        list(defs.assets or []),
        instance=instance,
        resources=defs.resources,
        selection=AssetSelection.assets(*request.asset_selection).without_checks()
        | AssetSelection.checks(*(request.asset_check_keys or [])),
        run_config=request.run_config,
        tags=request.tags,
    )
    assert result.success
    assert simulator.requests["features"] == simulator.requests["section_features"] == 0
    active = {p.id for p in simulator.account.active_products()}
    truth = {
        t.id: t.status
        for p in simulator.account.products.values()
        if p.id in active and str(p.id) in keys
        for t in p.tests
    }
    stored = dict(
        query(
            db,
            "SELECT id, status FROM tests WHERE product_id IN "
            f"({','.join(k for k in keys if int(k) in active)})",
        )
    )
    assert stored == truth
    tests_events = [
        e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("tests")
    ]
    assert {e.partition for e in tests_events} <= set(keys)
    assert tests_events, "the simulator changed nothing: the run recorded no tests"
    checked = {
        e.event_specific_data.partition
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key == AssetKey("tests")
    }
    assert checked == {None}  # all passed: the run's verdict per check, no product's own
    # Its step rebuilt the analytics of what it recorded: automation has nothing to add.
    recorded = defaultdict(set)
    for event in result.get_asset_materialization_events():
        recorded[event.asset_key.path[-1]].add(event.partition)
    for table in ANALYTICS:
        changed = set().union(*(recorded[d] for d in ANALYTICS_UPSTREAM[table]))
        expected = changed if table in PARTITIONED_ANALYTICS else {None}
        assert recorded[table] == expected, table
    after = evaluate_automation_conditions(defs, instance, analytics, cursor=before.cursor)
    assert after.total_requested == 0


def test_a_product_that_vanishes_after_the_run_was_planned_is_skipped_not_failed(
    simulator: SimulatorServer,
    db: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schedule plans a run over the partitions it knows; a product removed before the
    catalogue notices answers 404 and is gone from `GET /products`: the run succeeds, the
    product's rows stay. A 404 from a product still listed is a failure (found by the soak:
    runs failed on products the account had just dropped)."""
    defs = pipeline_for(simulator, db, monkeypatch)
    sync(defs, instance)
    keys = instance.get_dynamic_partitions("products")
    gone = int(keys[1])
    before = query(db, "SELECT count(*) FROM tests WHERE product_id = ?", [gone])[0][0]
    simulator.remove_product(gone)
    simulator.advance(1)
    selection = [AssetKey(name) for name in ("tests", "bugs", "features", "users")]

    def per_product_run() -> object:
        return materialize(
            list(defs.assets or []),
            instance=instance,
            resources=defs.resources,
            selection=selection,
            tags=range_tags(keys[0], keys[-1]),
            raise_on_error=False,
        )

    result = per_product_run()
    assert result.success  # type: ignore[attr-defined]
    assert query(db, "SELECT count(*) FROM tests WHERE product_id = ?", [gone])[0][0] == before
    materialized = {
        e.partition
        for e in result.get_asset_materialization_events()  # type: ignore[attr-defined]
        if e.asset_key == AssetKey("tests")
    }
    assert materialized == set(keys) - {str(gone)}

    still_listed = int(keys[2])
    simulator.arm(Fault(status=404, times=None, product_id=still_listed))
    failed = per_product_run()
    assert not failed.success  # type: ignore[attr-defined]
    step_failures = [
        e
        for e in failed.all_events
        if e.event_type_value == "STEP_FAILURE"  # type: ignore[attr-defined]
    ]
    text = str(step_failures[0].step_failure_data.user_failure_data.metadata)
    assert str(still_listed) in text and str(gone) not in text
