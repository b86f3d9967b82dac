"""What a person sees of an analytics partition in the UI: a Markdown preview of its top
rows (pandas) and a few numbers the UI plots over time."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue

from testio_assets.names import (
    FEATURE_QUALITY,
    PRODUCT_QUALITY_SUMMARY,
    QUALITY_BY_MONTH,
    TESTER_ACTIVITY,
)
from testio_assets.store.merge import WriteCounts

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_ROWS = 10

# What "top rows" means per table: sort columns (descending unless named in ASCENDING).
TOP_BY = {
    FEATURE_QUALITY: ["severity_score", "bugs", "feature_id"],
    TESTER_ACTIVITY: ["bugs_reported", "tester"],
    QUALITY_BY_MONTH: ["month", "testing_type"],
    PRODUCT_QUALITY_SUMMARY: ["product_id"],
}
ASCENDING = {"feature_id", "tester", "testing_type", "product_id"}

# Columns shown in the preview (all of them would not fit a page).
SHOWN = {
    FEATURE_QUALITY: [
        "feature", "tests", "bugs", "bugs_critical", "bugs_high", "severity_score",
        "overall_acceptance_rate", "rejection_rate", "last_bug_at", "never_tested",
    ],
    TESTER_ACTIVITY: [
        "tester", "bugs_reported", "bugs_accepted", "bugs_auto_accepted", "bugs_rejected",
        "bugs_critical", "reproductions", "comments", "last_activity_at",
    ],
    QUALITY_BY_MONTH: [
        "month", "testing_type", "tests_executed", "bugs", "bugs_critical", "severity_score",
        "active_testers", "overall_acceptance_rate", "rejection_rate", "review_rate",
    ],
    PRODUCT_QUALITY_SUMMARY: [
        "product", "health", "health_reasons", "tests", "tests_executed", "tests_open",
        "last_test_at", "bugs", "bugs_critical", "bugs_high", "bugs_per_test",
        "severity_score", "active_testers", "overall_acceptance_rate",
        "active_acceptance_rate", "auto_acceptance_rate", "rejection_rate", "review_rate",
        "features", "features_never_tested",
    ],
}  # fmt: skip


def preview(table: str, rows: pd.DataFrame) -> str:
    """The top rows of one product as a Markdown table."""
    order = TOP_BY[table]
    top = rows.sort_values(order, ascending=[c in ASCENDING for c in order])
    if table == QUALITY_BY_MONTH:
        top = top.sort_values(["month", "testing_type"], ascending=[False, True])
    shown = top[SHOWN[table]].head(PREVIEW_ROWS).copy()
    for column in shown.columns:
        if str(shown[column].dtype).startswith("datetime"):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
    shown = shown.astype(object).where(shown.notna(), None)  # NaN and NaT print as "-"
    more = len(rows) - len(shown)
    if table == PRODUCT_QUALITY_SUMMARY:  # one row: as measure | value, readable at a glance
        pairs = shown.iloc[0].map(_cell).reset_index()
        return pairs.to_markdown(index=False, headers=["measure", "value"])
    text = shown.to_markdown(index=False, floatfmt=".3g", missingval="-")
    return text + (f"\n\n... and {more} more row(s) in `analytics.{table}`" if more > 0 else "")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value)) or "-"
    if hasattr(value, "tolist"):  # a NumPy array (a DuckDB list)
        return _cell(value.tolist())
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def partition_metadata(
    table: str, frame: pd.DataFrame, product_id: int, counts: WriteCounts
) -> dict[str, Any]:
    rows = frame[frame["product_id"] == product_id]
    meta: dict[str, Any] = {
        "dagster/partition_row_count": counts.rows,
        "dagster/row_count": counts.table_rows,
        "rows_created": counts.created,
        "rows_updated": counts.updated,
        "rows_removed": counts.removed,
        "preview": MetadataValue.md(preview(table, rows) if len(rows) else "(no rows)"),
    }
    meta.update(_figures(table, rows))
    return meta


def _figures(table: str, rows: pd.DataFrame) -> dict[str, Any]:
    """Numbers worth a plot over time, per table."""
    if table == FEATURE_QUALITY:
        return {
            "features_never_tested": int(rows["never_tested"].sum()),
            "bugs": int(rows["bugs"].sum()),
        }
    if table == TESTER_ACTIVITY:
        return {"testers": len(rows), "bugs_accepted": int(rows["bugs_accepted"].sum())}
    if table == QUALITY_BY_MONTH:
        return {"months": int(rows["month"].nunique())}
    if len(rows) == 0:
        return {}
    row = rows.iloc[0]
    figures: dict[str, Any] = {
        "accepted_bugs": int(row["bugs_accepted"] + row["bugs_auto_accepted"]),
        "features_never_tested": int(row["features_never_tested"]),
        "health": str(row["health"]),
    }
    if not math.isnan(row["rejection_rate"]):  # NULL (no bugs) is left out, not plotted as 0
        figures["rejection_rate"] = MetadataValue.float(round(float(row["rejection_rate"]), 4))
    return figures
