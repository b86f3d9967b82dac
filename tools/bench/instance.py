"""The Dagster instance a benchmark run records into: `testio-assets bench --instance`.

- `sqlite`: the project's default, Dagster's own SQLite storage as it comes;
- `plugin`: the optional plugin (`testio_assets.instance`): the same SQLite files,
  connections kept open, event batches stored in one transaction;
- `postgres-stock`: Dagster's own dagster-postgres storage (`storage: postgres`, as the
  Helm chart writes it), on a throwaway server on loopback.

Each runs with `DAGSTER_EVENT_BATCH_SIZE=1000`, as `testio-assets` and `deploy/` set it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.throwaway_postgres import ThrowawayPostgres, throwaway_postgres

if TYPE_CHECKING:
    from dagster import DagsterInstance

# Cheap to import (no Dagster): the command line offers these as choices.
INSTANCES = ("sqlite", "plugin", "postgres-stock")
TEMPLATE = Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml"
PLUGIN_STORAGE = """
storage:
  custom:
    module: testio_assets.instance.storage
    class: PooledSqliteStorage
"""
POSTGRES_STORAGE = """
storage:
  postgres:
    postgres_url:
      env: TESTIO_DAGSTER_POSTGRES_URL
"""


def instance_yaml(kind: str) -> str:
    """The project's instance settings with the storage section of `kind`."""
    storage = {"plugin": PLUGIN_STORAGE, "postgres-stock": POSTGRES_STORAGE}.get(kind, "")
    return TEMPLATE.read_text() + storage


@dataclass(frozen=True)
class BenchInstance:
    kind: str
    postgres: ThrowawayPostgres | None
    lake_server: ThrowawayPostgres | None = None  # the DuckLake's catalog server

    def prepare(self, home: Path) -> dict[str, str]:
        """Write the instance settings into `home`; the environment a process needs to
        use them (a new database per home for PostgreSQL)."""
        home.mkdir(parents=True, exist_ok=True)
        env = {"DAGSTER_HOME": str(home), "DAGSTER_EVENT_BATCH_SIZE": "1000"}
        if self.postgres is not None:
            database = f"bench_{uuid.uuid4().hex[:10]}"
            env["TESTIO_DAGSTER_POSTGRES_URL"] = self.postgres.create_database(database)
        (home / "dagster.yaml").write_text(instance_yaml(self.kind))
        return env

    @contextmanager
    def open(self, home: Path) -> Iterator[DagsterInstance]:
        """A new instance of this kind in this process."""
        with instance_of(self.prepare(home)) as instance:
            yield instance


@contextmanager
def instance_of(env: dict[str, str]) -> Iterator[DagsterInstance]:
    """The instance that `env` (from `BenchInstance.prepare`) names, opened in this
    process; the process's environment is restored after."""
    from dagster import DagsterInstance

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with DagsterInstance.get() as instance:
            yield instance
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def bench_instance(kind: str, store: str = "file") -> Iterator[BenchInstance]:
    """The instance kind `kind`, with a PostgreSQL server for the postgres kind and for a
    DuckLake store's catalog (one server for both).

    Raises:
        ValueError: an unknown kind (the message lists the known ones).
    """
    if kind not in INSTANCES:
        raise ValueError(f"--instance {kind!r} is unknown: use one of {', '.join(INSTANCES)}")
    with ExitStack() as stack:
        needed = kind.startswith("postgres") or store == "lake"
        server = stack.enter_context(throwaway_postgres()) if needed else None
        yield BenchInstance(
            kind,
            server if kind.startswith("postgres") else None,
            server if store == "lake" else None,
        )
