"""Check evaluations name the latest materialization of their partition, looked up in bulk."""

from __future__ import annotations

from dagster import AssetKey, AssetMaterialization, DagsterInstance

from testio_assets.instance.check_targets import latest_materialization, latest_materializations


def test_bulk_lookup_equals_one_lookup_per_partition(project_instance: DagsterInstance) -> None:
    instance = project_instance

    def materialize(asset: str, *partitions: str) -> None:
        for partition in partitions:
            instance.report_runless_asset_event(
                AssetMaterialization(AssetKey(asset), partition=partition)
            )

    materialize("tests", "1", "2", "3", "4")
    materialize("bugs", "1", "2")
    materialize("tests", "2", "1", "2")  # "2" twice: it could crowd "1" out of a top-n
    wanted = [("tests", "1"), ("tests", "2"), ("tests", "3"), ("bugs", "2"), ("bugs", "9")]
    bulk = latest_materializations(instance, wanted)
    one_by_one = {key: latest_materialization(instance, *key) for key in wanted}
    assert bulk == one_by_one
    assert bulk[("bugs", "9")] is None and bulk[("tests", "3")] is not None
    assert bulk[("tests", "2")].storage_id > bulk[("tests", "1")].storage_id  # type: ignore[union-attr]
