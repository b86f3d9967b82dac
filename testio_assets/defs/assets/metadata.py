"""How an asset's work reads in the Dagster UI: metadata, owners, kinds, column schemas."""

from __future__ import annotations

from typing import Any

from dagster import MetadataValue, TableColumn, TableSchema

from testio_assets.store.tables import TABLES
from testio_assets.sync.report import PartitionOutcome, StepReport

GROUP = "testio"
OWNERS = ["team:data-engineering"]
KINDS = {"duckdb", "python"}


def table_metadata(table: str) -> dict[str, Any]:
    """The table's name and columns (with their DuckDB types), for the asset's definition."""
    columns = [TableColumn(name=name, type=sql) for name, sql in TABLES[table].items()]
    return {"dagster/column_schema": TableSchema(columns=columns), "dagster/table_name": table}


def report_metadata(report: StepReport, partitioned: bool = True) -> dict[str, Any]:
    """Numeric metadata (plotted over time by the UI), plus skipped records if any.

    A partition's rows are `dagster/partition_row_count`; `dagster/row_count` is always
    the whole table's.
    """
    rows = {"dagster/row_count": report.counts.table_rows}
    if partitioned:
        rows["dagster/partition_row_count"] = report.counts.rows
    meta: dict[str, Any] = {
        **rows,
        "rows_created": report.counts.created,
        "rows_updated": report.counts.updated,
        "rows_removed": report.counts.removed,
        "api_requests": report.requests,
        "pages_read": report.pages,
        "seconds": MetadataValue.float(round(report.seconds, 3)),
        **report.extra,
        "records_skipped": len(report.skipped_records),
    }
    if report.skipped_records:
        meta["skipped_records"] = MetadataValue.md(
            "\n".join(f"- {line}" for line in report.skipped_records[:50])
        )
    return meta


def change_summary(outcome: PartitionOutcome) -> str:
    """One log line: what the run changed, per asset, over all its products."""
    totals: dict[str, list[int]] = {}
    for (name, _), report in outcome.reports.items():
        if report.materialized:
            total = totals.setdefault(name, [0, 0, 0, 0])
            counts = report.counts
            for index, value in enumerate((1, counts.created, counts.updated, counts.removed)):
                total[index] += value
    parts = [
        f"{name} for {n} product(s): {created} created, {updated} updated, {removed} removed"
        for name, (n, created, updated, removed) in sorted(totals.items())
    ]
    return "stored " + ("; ".join(parts) if parts else "nothing")
