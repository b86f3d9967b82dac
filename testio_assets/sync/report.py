"""What one step did for one product, and what a whole run did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from testio_assets.api.stats import RequestStats
from testio_assets.checks.definitions import CheckOutcome
from testio_assets.checks.evaluate import Listing
from testio_assets.store.merge import WriteCounts


@dataclass
class StepReport:
    """One asset's work for one product partition."""

    counts: WriteCounts = field(default_factory=WriteCounts)
    requests: int = 0
    pages: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)
    skipped_records: list[str] = field(default_factory=list)
    listing: Listing | None = None  # what the API listed, for the completeness checks
    checks: list[CheckOutcome] = field(default_factory=list)
    materialized: bool = True  # False: only checks were evaluated

    @property
    def blocking_failure(self) -> str | None:
        """The name of a failed blocking check, if any."""
        return next((c.name for c in self.checks if c.blocks), None)

    def add_stats(self, stats: RequestStats) -> None:
        self.requests += stats.total_requests
        self.pages += stats.pages
        self.skipped_records.extend(
            f"{s.endpoint} (id {s.record_id}): {s.reason}"
            if s.record_id
            else f"{s.endpoint}: {s.reason}"
            for s in stats.skipped
        )


@dataclass
class PartitionOutcome:
    """What happened per (asset name, product id) in one run."""

    reports: dict[tuple[str, int], StepReport] = field(default_factory=dict)
    failures: dict[tuple[str, int], str] = field(default_factory=dict)
    fresh_features: list[int] = field(default_factory=list)
    inactive: list[int] = field(default_factory=list)

    @property
    def failed_products(self) -> list[int]:
        return sorted({pid for _, pid in self.failures})

    def failure_lines(self) -> list[str]:
        """One line per failed (product, asset), by product."""
        ordered = sorted(self.failures.items(), key=lambda item: (item[0][1], item[0][0]))
        return [f"product {pid} {name}: {why}" for (name, pid), why in ordered]


# Called as each (asset, product id, report) is stored.
ReportCallback = Callable[[str, int, StepReport], None]
