"""What a person sees of an analytics materialization in the UI: a Markdown preview of the
top rows, worst first, and the numbers the UI plots over time.

Plain Python over the rows DuckDB returns (no pandas: pyarrow imports pandas whenever it is
installed, 50 MiB in every process that builds a table, for a preview of ten rows)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dagster import MetadataValue
from tabulate import tabulate

from testio_assets.names import (
    BUGS_BY_PLATFORM,
    FEATURE_QUALITY,
    PRODUCT_QUALITY_SUMMARY,
    QUALITY_BY_MONTH,
    QUALITY_BY_WEEK,
    TESTER_ACTIVITY,
)
from testio_assets.store.merge import WriteCounts

Row = dict[str, Any]

PREVIEW_ROWS = 10
HEALTH_LEVEL = {"healthy": 0, "warning": 1, "critical": 2}

# What "top rows" means per table, worst first: sort columns (descending unless named in
# ASCENDING); `health_level` is the summary's health as a number.
TOP_BY = {
    FEATURE_QUALITY: ["severity_score", "bugs", "feature_id"],
    TESTER_ACTIVITY: ["bugs_reported", "tester"],
    QUALITY_BY_MONTH: ["month", "testing_type"],
    QUALITY_BY_WEEK: ["week", "testing_type"],
    BUGS_BY_PLATFORM: ["bugs_critical", "bugs", "operating_system"],
    PRODUCT_QUALITY_SUMMARY: ["health_level", "rejection_rate", "product_id"],
}
ASCENDING = {"feature_id", "tester", "testing_type", "product_id", "operating_system"}
_OVER_TIME = [
    "testing_type", "tests_executed", "bugs", "bugs_critical", "severity_score",
    "active_testers", "bugs_per_test", "rejection_rate", "review_rate",
]  # fmt: skip

# Columns shown in the preview (all of them would not fit a page).
SHOWN = {
    FEATURE_QUALITY: [
        "product_id", "feature", "tests", "bugs", "bugs_critical", "bugs_high",
        "severity_score", "overall_acceptance_rate", "rejection_rate", "last_bug_at",
        "never_tested",
    ],
    TESTER_ACTIVITY: [
        "product_id", "tester", "bugs_reported", "bugs_accepted", "bugs_auto_accepted",
        "bugs_rejected", "bugs_critical", "reproductions", "comments", "last_activity_at",
    ],
    QUALITY_BY_MONTH: ["product_id", "month", *_OVER_TIME],
    QUALITY_BY_WEEK: ["product_id", "week", *_OVER_TIME],
    BUGS_BY_PLATFORM: [
        "product_id", "operating_system", "bugs", "bugs_critical", "bugs_accepted",
        "bugs_rejected", "overall_acceptance_rate", "rejection_rate", "review_rate",
    ],
    PRODUCT_QUALITY_SUMMARY: [
        "product", "health", "health_reasons", "tests", "tests_executed", "tests_open",
        "last_test_at", "bugs", "bugs_critical", "bugs_high", "bugs_per_test",
        "known_bug_share", "severity_score", "active_testers", "overall_acceptance_rate",
        "active_acceptance_rate", "auto_acceptance_rate", "rejection_rate", "review_rate",
        "features", "features_never_tested",
    ],
}  # fmt: skip
# The summary's numbers the UI plots per product (a NULL rate is left out, not plotted 0).
PLOTTED_RATES = (
    "rejection_rate",
    "auto_acceptance_rate",
    "active_acceptance_rate",
    "review_rate",
    "bugs_per_test",
    "known_bug_share",
)


def metadata_by_product(
    table: str, rows: Sequence[Row], counts: Mapping[int, WriteCounts]
) -> dict[int, dict[str, Any]]:
    """Each product's materialization metadata (the summary's partitions): counts, the
    preview, the figures the UI plots."""
    by_product: dict[int, list[Row]] = {pid: [] for pid in counts}
    for row in rows:
        by_product.setdefault(int(row["product_id"]), []).append(row)
    metadata = {}
    for pid, count in counts.items():
        product_rows = by_product.get(pid, [])
        text = _markdown(table, product_rows, count.rows) if product_rows else "(no rows)"
        metadata[pid] = {
            "dagster/partition_row_count": count.rows,
            "dagster/row_count": count.table_rows,
            "rows_created": count.created,
            "rows_updated": count.updated,
            "rows_removed": count.removed,
            "preview": MetadataValue.md(text),
            **(summary_figures(product_rows[0]) if product_rows else {}),
        }
    return metadata


def run_metadata(
    table: str, rows: Sequence[Row], counts: Mapping[int, WriteCounts]
) -> dict[str, Any]:
    """One materialization's metadata for a rebuild over many products: totals, the
    products, and a preview of the worst rows among them (`rows`: at least the top
    PREVIEW_ROWS of them)."""
    total_rows = next(iter(counts.values())).table_rows if counts else 0
    rebuilt_rows = sum(count.rows for count in counts.values())
    text = _markdown(table, rows, rebuilt_rows) if rows else "(no rows)"
    metadata: dict[str, Any] = {
        "dagster/row_count": total_rows,
        "products_rebuilt": len(counts),
        "products": MetadataValue.json(sorted(counts)),
        "rows_created": sum(c.created for c in counts.values()),
        "rows_updated": sum(c.updated for c in counts.values()),
        "rows_removed": sum(c.removed for c in counts.values()),
        "preview": MetadataValue.md(text),
    }
    if table == PRODUCT_QUALITY_SUMMARY:
        for level in HEALTH_LEVEL:
            metadata[f"products_{level}"] = sum(1 for r in rows if r["health"] == level)
    return metadata


def summary_figures(row: Row) -> dict[str, Any]:
    """A product's health and rates as numbers, which the UI plots over time."""
    figures: dict[str, Any] = {
        "health": str(row["health"]),
        "health_level": HEALTH_LEVEL.get(str(row["health"]), 0),
        "accepted_bugs": int((row["bugs_accepted"] or 0) + (row["bugs_auto_accepted"] or 0)),
        "features_never_tested": int(row["features_never_tested"] or 0),
    }
    for rate in PLOTTED_RATES:
        if not _empty(row[rate]):
            figures[rate] = MetadataValue.float(round(float(row[rate]), 4))
    return figures


def preview_order(table: str) -> list[tuple[str, bool]]:
    """The table's preview order, worst first: (column, descending) per TOP_BY column."""
    return [(column, column not in ASCENDING) for column in TOP_BY[table]]


def _top_rows(table: str, rows: Sequence[Row]) -> list[Row]:
    """The first PREVIEW_ROWS rows by `preview_order` (empty values last), SHOWN columns."""
    ranked = [{**row, "health_level": HEALTH_LEVEL.get(str(row.get("health")), 0)} for row in rows]
    for column, descending in reversed(preview_order(table)):  # stable sorts, least first
        ranked.sort(key=lambda row, c=column: _sort_key(row[c], descending), reverse=descending)
    return [{column: row[column] for column in SHOWN[table]} for row in ranked[:PREVIEW_ROWS]]


def _sort_key(value: Any, descending: bool) -> tuple[bool, Any]:
    empty = _empty(value)
    # Empty values last in either direction (a descending sort puts True before False).
    return (not empty if descending else empty, None if empty else value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _markdown(table: str, rows: Sequence[Row], total: int) -> str:
    top = _top_rows(table, rows)
    if table == PRODUCT_QUALITY_SUMMARY and len(rows) == 1:  # measure | value, at a glance
        pairs = [(name, _cell(value)) for name, value in top[0].items()]
        return tabulate(pairs, headers=["measure", "value"], tablefmt="pipe")
    text = tabulate(
        [[_printable(value) for value in row.values()] for row in top],
        headers=SHOWN[table],
        tablefmt="pipe",
        floatfmt=".3g",
        missingval="-",
    )
    more = total - len(top)
    return text + (f"\n\n... and {more} more row(s) in `analytics.{table}`" if more > 0 else "")


def _printable(value: Any) -> Any:
    if _empty(value):
        return None
    if isinstance(value, date):  # dates and times: the day is enough in a preview
        return value.strftime("%Y-%m-%d")
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value)) or None
    return value


def _cell(value: Any) -> str:
    value = _printable(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
