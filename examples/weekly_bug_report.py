"""Your own asset on top of testio-assets' tables: a weekly bug report per product.

`testio_frames` hands the asset the product's rows of `bugs` as a pandas DataFrame
(`testio_assets/defs/frames.py`); the report counts the bugs reported each week by
severity. This file is its own code location (workspace.yaml loads it beside the project),
so `dg dev` shows it downstream of `bugs`; materialize a product's partition from there.
"""

# No `from __future__ import annotations`: Dagster inspects the annotations.
import dagster as dg
import pandas as pd

from testio_assets.defs.automation.partitions import product_partitions
from testio_assets.defs.frames import ProductFrames
from testio_assets.defs.resources import build_store
from testio_assets.settings import load_settings

WEEKS_SHOWN = 8


@dg.asset(
    partitions_def=product_partitions,
    ins={"bugs": dg.AssetIn("bugs", input_manager_key="testio_frames")},
    group_name="examples",
    kinds={"pandas"},
)
def weekly_bug_report(
    context: dg.AssetExecutionContext, bugs: pd.DataFrame
) -> dg.MaterializeResult:
    """Bugs reported per week and severity, for one product (the latest weeks first)."""
    weeks = bugs["reported_at"].dt.tz_convert(None).dt.to_period("W").dt.start_time
    report = (
        bugs.assign(week=weeks.dt.date)
        .pivot_table(index="week", columns="severity", values="id", aggfunc="count", fill_value=0)
        .sort_index(ascending=False)
    )
    context.log.info(
        "product %s: %d bugs over %d weeks", context.partition_key, len(bugs), len(report)
    )
    return dg.MaterializeResult(
        metadata={
            "bugs": len(bugs),
            "weeks": len(report),
            "report": dg.MetadataValue.md(report.head(WEEKS_SHOWN).to_markdown()),
        }
    )


# The project's `bugs`, as this code location sees it: declared, not materialized here
# (the project's location does that; the UI shows one `bugs` with this asset downstream).
project_bugs = dg.AssetSpec("bugs", partitions_def=product_partitions)


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    return dg.Definitions(
        assets=[project_bugs, weekly_bug_report],
        resources={"testio_frames": ProductFrames(store=build_store(settings))},
    )
