"""Your own asset on top of the project's tables: `testio_frames` hands it DataFrames, and
the example under examples/ runs with the project's definitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.simulator.server import SimulatorServer
from tests.pipeline_helpers import ROOT, pipeline_for, query, sync


def _example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "weekly_bug_report", ROOT / "examples" / "weekly_bug_report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def synced(simulator: SimulatorServer, db: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    defs = pipeline_for(simulator, db, monkeypatch)
    with dg.DagsterInstance.ephemeral() as instance:
        assert sync(defs, instance).failure is None
    return defs


def test_the_example_reports_a_products_bugs_by_week(
    synced: dg.Definitions, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = _example()
    monkeypatch.setenv("TESTIO_DUCKDB_PATH", str(db))  # the example reads its settings
    own = example.defs()  # the example's code location, as `dg dev` loads it
    # It loads on its own (its upstream `bugs` declared there, materialized by the project).
    assert own.get_repository_def().asset_graph.get(example.weekly_bug_report.key)
    product = query(db, "SELECT product_id FROM bugs GROUP BY 1 ORDER BY count(*) DESC")[0][0]
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(product_partitions.name, [str(product)])
        result = dg.materialize(
            [*(synced.assets or []), example.weekly_bug_report],
            resources={**(synced.resources or {}), **(own.resources or {})},
            selection=[example.weekly_bug_report.key],
            partition_key=str(product),
            instance=instance,
        )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    bugs = query(db, "SELECT count(*) FROM bugs WHERE product_id = ?", [product])[0][0]
    weeks = query(
        db,
        "SELECT count(DISTINCT date_trunc('week', reported_at AT TIME ZONE 'UTC')) FROM bugs "
        "WHERE product_id = ?",
        [product],
    )[0][0]
    assert meta["bugs"].value == bugs and meta["weeks"].value == weeks
    assert "| week" in meta["report"].value


def _reader(key: str, partitioned: bool) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"reads_{key}",
        partitions_def=product_partitions if partitioned else None,
        ins={"rows": dg.AssetIn(key, input_manager_key="testio_frames")},
    )
    def reads(rows: pd.DataFrame) -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"rows": len(rows), "products": sorted(set(rows["product_id"]))}
        )

    return reads


@pytest.mark.parametrize(
    ("table", "partitioned"),
    [("tests", True), ("feature_quality", True), ("product_quality_summary", True),
     ("bugs_by_platform", False)],
)  # fmt: skip
def test_any_table_comes_as_one_products_dataframe(
    synced: dg.Definitions, db: Path, table: str, partitioned: bool
) -> None:
    reader = _reader(table, partitioned)
    product = query(db, "SELECT id FROM products ORDER BY id")[0][0]
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(product_partitions.name, [str(product)])
        result = dg.materialize(
            [*(synced.assets or []), reader],
            resources=synced.resources,
            selection=[reader.key],
            partition_key=str(product) if partitioned else None,
            instance=instance,
        )
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    name = table if table in ("tests",) else f"analytics.{table}"
    where = f" WHERE product_id = {product}" if partitioned else ""
    assert meta["rows"] == query(db, f"SELECT count(*) FROM {name}{where}")[0][0] > 0
    if partitioned:
        assert meta["products"] == [product]
