"""The pooled SQLite event log stores exactly what Dagster's own stores, and says so loudly
when a Dagster upgrade changes the code it stands in for.

`PooledSqliteEventLogStorage` (testio_assets/instance_storage.py) keeps connections open
and stores a batch of one run's asset events in one transaction. The same sync is recorded
once with it and once with Dagster's stock SQLite storage, both handed the same event
batches (`DAGSTER_EVENT_BATCH_SIZE`), and everything the instance can tell afterwards is
compared: every run's event records, and the cross-run index the UI and the sensors read
(materializations, planned materializations, event tags, asset records, check executions).
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from testio_assets.instance.event_log import PooledSqliteEventLogStorage
from testio_assets.simulator.server import SimulatorServer
from tests.conftest import TEST_PROFILE
from tests.pipeline_helpers import ROOT, pipeline_for, sync

ALL = 10_000  # the most Dagster returns at once; the syncs here store far fewer


def _instance(home: Path, connections: str, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    home.mkdir()
    text = (ROOT / "dagster_home" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(
        text.replace("connections: pooled", f"connections: {connections}")
    )
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
    for connections in ("stock", "pooled"):
        instance = _instance(tmp_path / connections, connections, monkeypatch)
        expected = SqliteEventLogStorage if connections == "stock" else PooledSqliteEventLogStorage
        assert type(instance.event_log_storage) is expected
        with SimulatorServer(TEST_PROFILE, seed=11) as simulator, instance:
            defs = pipeline_for(simulator, tmp_path / f"{connections}.duckdb", monkeypatch)
            assert sync(defs, instance).failure is None
            simulator.advance(2)  # the second sync updates some of what the first stored
            assert sync(defs, instance).failure is None
            seen[connections] = _recorded(instance, defs)
    assert seen["pooled"].keys() == seen["stock"].keys()
    for name, stock in seen["stock"].items():
        assert seen["pooled"][name] == stock, name
    assert any(AssetKey("features").to_user_string() in name for name in seen["stock"])


# The Dagster code the pooled event log reproduces or relies on, fingerprinted. When an
# upgrade changes any of it, this fails: read the change, check instance_storage.py
# against it (store_event_batch writes the rows store_event writes; planned_checks.py the
# rows of planned checks, pool_limits.py the pool's row), then update the
# fingerprint here.
REPRODUCED = {
    "SqliteEventLogStorage.store_event": SqliteEventLogStorage.store_event,
    "SqliteEventLogStorage._connect": SqliteEventLogStorage._connect,
    "SqliteEventLogStorage.has_table": SqliteEventLogStorage.has_table,
    "SqlEventLogStorage.store_event": SqlEventLogStorage.store_event,
    "SqlEventLogStorage.store_event_batch": SqlEventLogStorage.store_event_batch,
    # replaced by planned_checks.store_planned_checks (the same rows, lean)
    "SqlEventLogStorage._store_asset_check_evaluation_planned": (
        SqlEventLogStorage._store_asset_check_evaluation_planned
    ),
    # replaced on PostgreSQL by pool_limits.initialize_pool_limit (dagster-io/dagster#33552)
    "SqlEventLogStorage.initialize_concurrency_limit_to_default": (
        SqlEventLogStorage.initialize_concurrency_limit_to_default
    ),
}
FINGERPRINTS = {
    "SqliteEventLogStorage.store_event": "f89aed40602438b9",
    "SqliteEventLogStorage._connect": "b8435f2665689760",
    "SqliteEventLogStorage.has_table": "577d801c70b2a4a5",
    "SqlEventLogStorage.store_event": "391ced414e9bfecb",
    "SqlEventLogStorage.store_event_batch": "d710189545dbace2",
    "SqlEventLogStorage._store_asset_check_evaluation_planned": "bbecef7ab5ce9d01",
    "SqlEventLogStorage.initialize_concurrency_limit_to_default": "6d44fe17c895aa29",
}


def test_the_dagster_code_it_stands_in_for_has_not_changed() -> None:
    found = {
        name: hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]
        for name, method in REPRODUCED.items()
    }
    changed = {name for name, print_ in found.items() if FINGERPRINTS[name] != print_}
    assert not changed, (
        f"Dagster changed {sorted(changed)}: check PooledSqliteEventLogStorage against it, "
        f"then set the fingerprints to {found}"
    )
