"""Resources built from the validated settings: the API client and the store."""

from __future__ import annotations

from dagster import EnvVar

from testio_assets.api.client import TestIOClient
from testio_assets.defs.frames import ProductFrames
from testio_assets.settings import Settings
from testio_assets.store.database import DuckDBStore
from testio_assets.store.source import Source


def client_options(settings: Settings) -> dict[str, object]:
    return {
        "base_url": settings.base_url,
        "max_concurrency": settings.max_concurrency,
        "timeout_seconds": settings.http_timeout_seconds,
        "retry_budget_seconds": settings.retry_budget_seconds,
        "page_size": settings.page_size,
        "bug_batch_size": settings.bug_batch_size,
    }


def build_client(settings: Settings, for_dagster: bool = True) -> TestIOClient:
    """The API client, or the same client pointed at the built-in simulator when it was
    asked for. In Dagster's resources the token enters through `EnvVar`, so the UI shows
    the variable's name, never its value; a command talking to the API directly
    (`testio-assets products`) passes it itself.

    Raises:
        SettingsError: neither a token nor the simulator (`Settings.require_source`), or
            an unknown simulator profile.
    """
    settings.require_source()
    options = client_options(settings)
    if settings.simulator:
        from testio_assets.simulator.embedded import SimulatedTestIOClient, check_profile

        check_profile(settings.simulator_profile)
        return SimulatedTestIOClient(
            simulator_profile=settings.simulator_profile,
            simulator_seed=settings.simulator_seed,
            **options,
        )
    token = EnvVar("TESTIO_API_TOKEN") if for_dagster else settings.api_token
    return TestIOClient(api_token=token, **options)  # type: ignore[arg-type]


def source_of(settings: Settings) -> Source:
    """Whose data these settings sync (recorded in the database, never a token)."""
    if settings.simulator:
        return Source.simulator(settings.simulator_profile, settings.simulator_seed)
    return Source.api(settings.base_url)


def build_store(settings: Settings, for_dagster: bool = True) -> DuckDBStore:
    """The store: the DuckDB file, or the DuckLake when its settings are given (whose
    catalog URL, with its password, enters Dagster's resources through `EnvVar`)."""
    catalog: str | None = settings.ducklake_catalog
    if catalog and for_dagster:
        catalog = EnvVar("TESTIO_DUCKLAKE_CATALOG")
    return DuckDBStore(
        path=settings.duckdb_path,
        memory_limit=settings.duckdb_memory_limit,
        source=source_of(settings).encode(),
        lake_catalog=catalog,
        lake_data_path=settings.ducklake_data_path,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    """The client, the store, and `testio_frames` for your own assets (`frames.py`)."""
    store = build_store(settings)
    return {
        "testio": build_client(settings),
        "store": store,
        "testio_frames": ProductFrames(store=store),
    }
