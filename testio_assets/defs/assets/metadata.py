"""How an asset's work reads in the Dagster UI: metadata, owners, kinds, column schemas."""

from __future__ import annotations

from collections.abc import Sequence
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


def range_metadata(reports: Sequence[StepReport]) -> dict[str, Any]:
    """The metadata of one output over a run's products: the run's figures, named so that
    no one reads them as one product's (`dagster/row_count` is the whole table's)."""
    return {
        "dagster/row_count": max((r.counts.table_rows for r in reports), default=0),
        "products_in_run": len(reports),
        "run_rows_created": sum(r.counts.created for r in reports),
        "run_rows_updated": sum(r.counts.updated for r in reports),
        "run_rows_removed": sum(r.counts.removed for r in reports),
        "run_api_requests": sum(r.requests for r in reports),
        "run_records_skipped": sum(len(r.skipped_records) for r in reports),
    }


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
