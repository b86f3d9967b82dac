"""The optional plugin's event log stores exactly what Dagster's own stores, and says so
loudly when a Dagster upgrade changes the code it stands in for.

`PooledSqliteEventLogStorage` (testio_assets/instance/event_log.py) keeps connections open
and stores a batch of one run's asset events in one transaction. The same sync is recorded
once with it and once with Dagster's stock SQLite storage, both handed the same event
batches (`DAGSTER_EVENT_BATCH_SIZE`), and everything the instance can tell afterwards is
compared: every run's event records, and the cross-run index the UI and the sensors read
(materializations, planned materializations, event tags, asset records, check executions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance

from testio_assets.simulator.server import SimulatorServer
from tests.conftest import TEST_PROFILE
from tests.pipeline_helpers import pipeline_for, sync
from tools.bench.instance import instance_yaml

ALL = 10_000  # the most Dagster returns at once; the syncs here store far fewer


def _instance(home: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(kind))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return DagsterInstance.get()


def _recorded(instance: DagsterInstance, defs: Any) -> dict[str, Any]:
    """What the instance tells about its runs and assets, with ids and times left out."""
    runs = [r.dagster_run.run_id for r in instance.get_run_records(ascending=True)]
    order = {run_id: index for index, run_id in enumerate(runs)}
    found: dict[str, Any] = {}
    for run_id in runs:
        events = [
            (
                r.event_log_entry.dagster_event_type or "",
                r.event_log_entry.step_key or "",
                r.asset_key.to_user_string() if r.asset_key else "",
                r.partition_key or "",
            )
            for r in instance.get_records_for_run(run_id, limit=ALL).records
        ]
        # A step's events come in the order its products finish, which differs between
        # two syncs; the planned events are stored as one batch, in Dagster's order.
        found[f"run {order[run_id]}"] = sorted(events)
        found[f"run {order[run_id]} planned, in order"] = [
            event for event in events if str(event[0]).endswith("_PLANNED")
        ]
    storage = instance.event_log_storage
    for key in sorted(instance.get_asset_keys(), key=lambda k: k.to_user_string()):
        name = key.to_user_string()
        found[f"{name} materializations"] = sorted(
            (order[r.run_id], r.partition_key or "")
            for r in instance.fetch_materializations(key, limit=ALL, ascending=True).records
        )
        partitions = instance.get_materialized_partitions(key)
        found[f"{name} partitions"] = sorted(partitions)
        found[f"{name} planned"] = sorted(
            (p or "", order[info.run_id])
            for p in partitions | {None}  # type: ignore[operator]
            if (info := instance.get_latest_planned_materialization_info(key, p)) is not None
        )
        # Tag names per event (data versions hash sync times, which differ between syncs).
        found[f"{name} tags"] = sorted(
            tuple(sorted(tags)) for tags in storage.get_event_tags_for_asset(key)
        )
        (record,) = instance.get_asset_records([key])
        latest = record.asset_entry.last_materialization_record
        # Which partition finished last differs between syncs; the run does not.
        found[f"{name} latest run"] = latest and order[latest.run_id]
    for check_key in sorted(defs.resolve_asset_graph().asset_check_keys, key=str):
        found[str(check_key)] = sorted(
            (e.status.value, e.partition, order[e.run_id])
            for e in storage.get_asset_check_execution_history(check_key, limit=ALL)
        )
    return found


def test_the_pooled_event_log_stores_what_dagsters_own_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as testio-assets sets it
    seen = {}
    for kind in ("sqlite", "plugin"):
        instance = _instance(tmp_path / kind, kind, monkeypatch)
        storage = type(instance.event_log_storage)
        assert (storage.__name__ == "PooledSqliteEventLogStorage") == (kind == "plugin")
        with SimulatorServer(TEST_PROFILE, seed=11) as simulator, instance:
            defs = pipeline_for(simulator, tmp_path / f"{kind}.duckdb", monkeypatch)
            assert sync(defs, instance).failure is None
            simulator.advance(2)  # the second sync updates some of what the first stored
            assert sync(defs, instance).failure is None
            seen[kind] = _recorded(instance, defs)
    assert seen["plugin"].keys() == seen["sqlite"].keys()
    for name, stock in seen["sqlite"].items():
        assert seen["plugin"][name] == stock, name
    assert any(AssetKey("features").to_user_string() in name for name in seen["sqlite"])


def test_the_dagster_code_it_stands_in_for_has_not_changed() -> None:
    from testio_assets.instance.fingerprints import changed

    assert not changed(), (
        f"Dagster changed {sorted(changed())}: check the plugin (testio_assets/instance/) "
        f"against it, then set its fingerprints to {changed()}"
    )
