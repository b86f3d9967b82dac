"""What a person sees of an analytics partition in the UI: a Markdown preview of its top
rows (pandas) and a few numbers the UI plots over time."""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def metadata_by_product(
    table: str, frame: pd.DataFrame, counts: Mapping[int, WriteCounts]
) -> dict[int, dict[str, Any]]:
    """Each product's materialization metadata: counts, a preview, figures. Computed for
    all products at once (sorting and formatting per product cost 14 ms each)."""
    tops = {int(pid): rows for pid, rows in _top_rows(table, frame).groupby("product_id")}
    figures = _figures(table, frame)
    metadata = {}
    for pid, count in counts.items():
        top = tops.get(pid)
        text = "(no rows)" if top is None else _markdown(table, top, count.rows)
        metadata[pid] = {
            "dagster/partition_row_count": count.rows,
            "dagster/row_count": count.table_rows,
            "rows_created": count.created,
            "rows_updated": count.updated,
            "rows_removed": count.removed,
            "preview": MetadataValue.md(text),
            **figures.get(pid, {}),
        }
    return metadata


def _top_rows(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Each product's first PREVIEW_ROWS rows by TOP_BY, formatted for printing."""
    order = TOP_BY[table]
    ascending = [c in ASCENDING for c in order]
    if table == QUALITY_BY_MONTH:
        ascending = [False, True]  # the latest month first
    ranked = frame.sort_values(["product_id", *order], ascending=[True, *ascending])
    top = ranked.groupby("product_id", sort=False).head(PREVIEW_ROWS)
    top = top[["product_id", *SHOWN[table]]].copy()
    for column in top.columns:
        if str(top[column].dtype).startswith("datetime"):
            top[column] = top[column].dt.strftime("%Y-%m-%d")
    return top.astype(object).where(top.notna(), None)  # NaN and NaT print as "-"


def _markdown(table: str, top: pd.DataFrame, total: int) -> str:
    shown = top.drop(columns="product_id")
    if table == PRODUCT_QUALITY_SUMMARY:  # one row: as measure | value, readable at a glance
        pairs = shown.iloc[0].map(_cell).reset_index()
        return pairs.to_markdown(index=False, headers=["measure", "value"])
    text = shown.to_markdown(index=False, floatfmt=".3g", missingval="-")
    more = total - len(shown)
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


def _figures(table: str, frame: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Numbers worth a plot over time, per product."""
    grouped = frame.groupby("product_id")
    if table == FEATURE_QUALITY:
        sums = grouped.agg(features_never_tested=("never_tested", "sum"), bugs=("bugs", "sum"))
    elif table == TESTER_ACTIVITY:
        sums = grouped.agg(testers=("tester", "size"), bugs_accepted=("bugs_accepted", "sum"))
    elif table == QUALITY_BY_MONTH:
        sums = grouped.agg(months=("month", "nunique"))
    else:
        return {int(row["product_id"]): _health_figures(row) for _, row in frame.iterrows()}
    return {
        int(pid): {name: int(value) for name, value in values.items()}
        for pid, values in sums.to_dict("index").items()
    }


def _health_figures(row: pd.Series) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "accepted_bugs": int(row["bugs_accepted"] + row["bugs_auto_accepted"]),
        "features_never_tested": int(row["features_never_tested"]),
        "health": str(row["health"]),
    }
    if not math.isnan(row["rejection_rate"]):  # NULL (no bugs) is left out, not plotted as 0
        figures["rejection_rate"] = MetadataValue.float(round(float(row["rejection_rate"]), 4))
    return figures
