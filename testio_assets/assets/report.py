"""What one asset did for one product, and how it reads as Dagster metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagster import MetadataValue

from testio_assets.api.client import RequestStats
from testio_assets.store.writers import WriteCounts


@dataclass
class StepReport:
    """One asset's work for one product partition."""

    counts: WriteCounts = field(default_factory=WriteCounts)
    requests: int = 0
    pages: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)
    skipped_records: list[str] = field(default_factory=list)

    def add_stats(self, stats: RequestStats) -> None:
        self.requests += stats.total_requests
        self.pages += stats.pages
        self.skipped_records.extend(
            f"{s.endpoint} (id {s.record_id}): {s.reason}"
            if s.record_id
            else f"{s.endpoint}: {s.reason}"
            for s in stats.skipped
        )

    def metadata(self) -> dict[str, Any]:
        """Numeric metadata (plotted over time by the UI), plus skipped records if any."""
        meta: dict[str, Any] = {
            "dagster/row_count": self.counts.rows,
            "rows_created": self.counts.created,
            "rows_updated": self.counts.updated,
            "rows_removed": self.counts.removed,
            "api_requests": self.requests,
            "pages_read": self.pages,
            "seconds": MetadataValue.float(round(self.seconds, 3)),
            **self.extra,
        }
        meta["records_skipped"] = len(self.skipped_records)
        if self.skipped_records:
            meta["skipped_records"] = MetadataValue.md(
                "\n".join(f"- {line}" for line in self.skipped_records[:50])
            )
        return meta
