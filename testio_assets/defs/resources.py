"""Resources built from the validated settings; the demo wiring (no token) happens here."""

from __future__ import annotations

from dagster import EnvVar

from testio_assets.api.client import TestIOClient
from testio_assets.settings import Settings
from testio_assets.store.database import DuckDBStore


def build_client(settings: Settings) -> TestIOClient:
    """The API client; the token enters through `EnvVar`, so the UI never displays it.
    Without a token: the same client, pointed at the built-in simulator."""
    options = {
        "base_url": settings.base_url,
        "max_concurrency": settings.max_concurrency,
        "timeout_seconds": settings.http_timeout_seconds,
        "retry_budget_seconds": settings.retry_budget_seconds,
        "page_size": settings.page_size,
        "bug_batch_size": settings.bug_batch_size,
    }
    if settings.api_token:
        return TestIOClient(api_token=EnvVar("TESTIO_API_TOKEN"), **options)
    from testio_assets.simulator.embedded import SimulatedTestIOClient

    return SimulatedTestIOClient(
        simulator_profile=settings.simulator_profile,
        simulator_seed=settings.simulator_seed,
        **options,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "testio": build_client(settings),
        "store": DuckDBStore(path=settings.duckdb_path, memory_limit=settings.duckdb_memory_limit),
    }
