"""Resources built from the validated settings."""

from __future__ import annotations

from dagster import EnvVar

from testio_assets.api.client import TestIOClient
from testio_assets.settings import Settings
from testio_assets.store.database import DuckDBStore


def build_client(settings: Settings) -> TestIOClient:
    """The API client; the token enters through `EnvVar`, so the UI never displays it."""
    return TestIOClient(
        api_token=EnvVar("TESTIO_API_TOKEN") if settings.api_token else None,
        base_url=settings.base_url,
        max_concurrency=settings.max_concurrency,
        timeout_seconds=settings.http_timeout_seconds,
        retry_budget_seconds=settings.retry_budget_seconds,
        page_size=settings.page_size,
        bug_batch_size=settings.bug_batch_size,
        simulator_profile=settings.simulator_profile,
        simulator_seed=settings.simulator_seed,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    return {"testio": build_client(settings), "store": DuckDBStore(path=settings.duckdb_path)}
