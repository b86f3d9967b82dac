"""What a sync tells its user at the end, and what it reads back from its runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import DagsterInstance, ExecuteInProcessResult

from testio_assets.names import REQUESTS_TAG


@dataclass
class SyncSummary:
    """What a sync did, for the closing printout."""

    products: list[int] = field(default_factory=list)
    failed_products: list[int] = field(default_factory=list)
    failure: str | None = None
    requests: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    lock_waits: int = 0
    lock_wait_seconds: float = 0.0

    def render(self) -> str:
        """A line of what was synced (none after a failed listing), rows per table, waits,
        then what failed."""
        lines = []
        if self.products:
            done = len(self.products) - len(self.failed_products)
            lines.append(
                f"synced {done} of {len(self.products)} product(s) in {self.seconds:.1f} s "
                f"with {self.requests} API request(s)"
            )
            lines += [f"  {table:<32}{count:>10,} rows" for table, count in self.rows.items()]
        if self.lock_waits:
            lines.append(
                f"  waited {self.lock_waits} time(s), {self.lock_wait_seconds:.1f} s in "
                "all, for another process to release the database"
            )
        if self.failure:
            lines.append(f"FAILED: {self.failure}")
        return "\n".join(lines)


def requests_of(instance: DagsterInstance, result: ExecuteInProcessResult) -> int:
    """The run's API requests: the product step's tag, else its materializations' sum."""
    run = instance.get_run_by_id(result.run_id)
    if run is not None and REQUESTS_TAG in run.tags:
        return int(run.tags[REQUESTS_TAG])
    total = 0
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get("api_requests")
        total += int(value.value) if value is not None else 0
    return total


def run_failure(result: ExecuteInProcessResult) -> tuple[str | None, list[int]]:
    """The step failure's message (without Dagster's wrapping) and the products it names."""
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and user.description:
                failed = user.metadata.get("failed_products")
                return user.description, list(failed.value) if failed is not None else []
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the framework's wrapper says less than the cause
            return (error.message.strip() if error else None), []
    return None, []
