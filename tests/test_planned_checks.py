"""A run's planned checks cost the same per partition however many partitions it covers.

Dagster stores a planned check as one row per partition, each holding the event with the
run's whole partition list (`testio_assets/planned_checks.py`): quadratic in the account.
The project's storages (SQLite and PostgreSQL, as shipped) store the same rows without the
list. A small partitioned asset of Dagster's own kind, whose check is planned but never
evaluated, leaves the planned rows to look at.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    DagsterInstance,
    DynamicPartitionsDefinition,
    MaterializeResult,
    PreviewWarning,
    materialize,
    multi_asset,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._serdes import serialize_value

from testio_assets.defs.automation.partitions import range_tags
from testio_assets.instance.planned_checks import has_lean_planned_checks
from tests.test_instance_storage import _instance

PARTS = DynamicPartitionsDefinition(name="parts")
CHECK = AssetCheckKey(AssetKey("measured"), "planned_only")


with warnings.catch_warnings():  # partitioned check specs are a preview feature
    warnings.simplefilter("ignore", PreviewWarning)
    SPEC = AssetCheckSpec(CHECK.name, asset="measured", partitions_def=PARTS)


@multi_asset(
    specs=[AssetSpec("measured", partitions_def=PARTS, skippable=True)],
    check_specs=[SPEC],
    partitions_def=PARTS,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=True,  # which makes the check's result optional
)
def measured() -> Iterator[MaterializeResult]:
    yield MaterializeResult(asset_key="measured")  # the check is planned, never evaluated


def _planned_rows(instance: DagsterInstance, keys: list[str]) -> list[tuple[str, int]]:
    """Run `measured` over `keys`; its planned rows as (partition, stored event size)."""
    instance.add_dynamic_partitions(PARTS.name, keys)
    result = materialize([measured], instance=instance, tags=range_tags(keys[0], keys[-1]))
    assert result.success
    records = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=10_000)
    mine = [r for r in records if r.run_id == result.run_id]
    assert {r.status for r in mine} == {AssetCheckExecutionRecordStatus.PLANNED}
    return sorted((str(r.partition), len(serialize_value(r.event))) for r in mine)


def _sizes(instance: DagsterInstance) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    few = _planned_rows(instance, [f"a{i:03}" for i in range(3)])
    many = _planned_rows(instance, [f"b{i:03}" for i in range(300)])
    return few, many


def test_a_planned_check_row_does_not_repeat_the_runs_partitions(
    project_instance: DagsterInstance,
) -> None:
    assert has_lean_planned_checks(project_instance.event_log_storage)
    few, many = _sizes(project_instance)
    assert [p for p, _ in few] == ["a000", "a001", "a002"]
    assert [p for p, _ in many] == [f"b{i:03}" for i in range(300)]
    # Every row holds the bare event: its size does not depend on the run's width (a few
    # characters differ: timestamps).
    assert max(size for _, size in many) < max(size for _, size in few) + 20


def test_dagsters_own_rows_grow_with_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the lean rows replace (the stock storage): the same rows, each with the list."""
    instance = _instance(tmp_path / "stock", "stock", monkeypatch)
    with instance:
        assert not has_lean_planned_checks(instance.event_log_storage)
        few, many = _sizes(instance)
    assert len(many) == 300
    assert min(size for _, size in many) > 3 * max(size for _, size in few)
