"""Shared fixtures: a simulator served on loopback and a client pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from testio_assets.api.client import TestIOClient
from testio_assets.commands.instance import open_instance
from testio_assets.simulator.profiles import Profile
from testio_assets.simulator.server import SimulatorServer
from tools.bench.instance import instance_yaml
from tools.throwaway_postgres import (
    PostgresUnavailable,
    ThrowawayPostgres,
    server_bin_dir,
    throwaway_postgres,
)

ROOT = Path(__file__).resolve().parents[1]

# A profile small enough for fast tests but with every quirk: sectioned products,
# more than 150 tests on one product is made by the tests that need it.
TEST_PROFILE = Profile(
    products=4,
    tests_per_product=(12, 30),
    bugs_per_test=(0, 3),
    features_per_product=(4, 8),
    sectioned_share=0.5,
)


@pytest.fixture(autouse=True)
def _no_real_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never talk to the real API, whatever the developer's shell exports."""
    for name in list(os.environ):
        if name.startswith("TESTIO_") or name == "FEATURE_CACHE_TTL_SECONDS":
            monkeypatch.delenv(name, raising=False)


ONE_PRODUCT = Profile(
    products=1,
    tests_per_product=(60, 60),
    bugs_per_test=(1, 2),
    features_per_product=(3, 5),
    sectioned_share=0.0,
)


@pytest.fixture
def one_product() -> Iterator[SimulatorServer]:
    """One unsectioned product with 60 tests: the fault tests' account."""
    with SimulatorServer(ONE_PRODUCT, seed=9) as server:
        yield server


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(TEST_PROFILE, seed=11) as server:
        yield server


def client_for(server: SimulatorServer, **overrides: object) -> TestIOClient:
    """A client for `server` with fast retries, so fault tests take milliseconds."""
    options: dict[str, object] = {
        "api_token": server.token,
        "base_url": server.base_url,
        "retry_backoff_seconds": 0.01,
        "retry_min_wait_seconds": 0.01,
        "retry_budget_seconds": 10.0,
        "timeout_seconds": 5.0,
    }
    options.update(overrides)
    return TestIOClient(**options)  # type: ignore[arg-type]


@pytest.fixture
def client(simulator: SimulatorServer) -> TestIOClient:
    return client_for(simulator)


EXAMPLES = Path(__file__).parent / "fixtures" / "testio_examples"
SHARED_EXAMPLES = Path(__file__).parents[2] / "shared" / "testio-api" / "examples"


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    """A Dagster instance in memory: runs, partitions and materializations."""
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's DuckDB file goes (a real database file)."""
    return tmp_path / "testio.duckdb"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL server for the session (each test gets its own database).
    Without the server programs the Postgres tests are skipped, except in CI, where that
    is a failure (`scripts/test.sh` installs them)."""
    try:
        server_bin_dir()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    with throwaway_postgres() as server:
        yield server


def postgres_database(request: pytest.FixtureRequest) -> str:
    """The URL of a new database on the session's server."""
    server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


# The instances the Dagster tests run on: Dagster's own SQLite storage (the default),
# Dagster's own PostgreSQL storage (`storage: postgres`, as the Helm chart deploys it), and
# the project's optional plugin (testio_assets/instance/).
INSTANCE_KINDS = {"sqlite": "sqlite", "postgres": "postgres-stock", "plugin": "plugin"}


@pytest.fixture(params=list(INSTANCE_KINDS))
def project_instance(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    """The project's instance settings in a temp DAGSTER_HOME, on each kind of storage:
    SQLite files there, a new database on a real PostgreSQL server, or the plugin."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(INSTANCE_KINDS[request.param]))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    if request.param == "postgres":
        monkeypatch.setenv("TESTIO_DAGSTER_POSTGRES_URL", postgres_database(request))
    with open_instance() as instance:
        yield instance


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, so that with several workers (`scripts/test.sh`) they start
    at once and the quick ones fill in around them, instead of one of them ending the
    suite alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
