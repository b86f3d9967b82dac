"""The Dagster instance a benchmark run records into: `testio-assets bench --instance`.

- `sqlite`: Dagster's own SQLite storage as it comes (a connection per event, no event
  batches);
- `pooled`: what the project ships for one machine (SQLite, connections kept open, event
  batches);
- `postgres`: what the project recommends beyond a laptop (PostgreSQL, a small pool of
  connections kept open, event batches), on a throwaway server on loopback;
- `postgres-stock`: the same server with dagster-postgres's own connection handling.
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
INSTANCES = ("sqlite", "pooled", "postgres", "postgres-stock")
TEMPLATE = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"


@dataclass(frozen=True)
class BenchInstance:
    kind: str
    postgres: ThrowawayPostgres | None

    def prepare(self, home: Path) -> dict[str, str]:
        """Write the instance settings into `home`; the environment a process needs to
        use them (a new database per home for PostgreSQL)."""
        home.mkdir(parents=True, exist_ok=True)
        config = TEMPLATE.read_text()
        env = {"DAGSTER_HOME": str(home)}
        if self.kind in ("sqlite", "postgres-stock"):
            config = config.replace("connections: pooled", "connections: stock")
        if self.kind == "sqlite":
            env["DAGSTER_EVENT_BATCH_SIZE"] = "0"  # Dagster's default: event by event
        if self.postgres is not None:
            database = f"bench_{uuid.uuid4().hex[:10]}"
            env["TESTIO_DAGSTER_POSTGRES_URL"] = self.postgres.create_database(database)
        (home / "dagster.yaml").write_text(config)
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
def bench_instance(kind: str) -> Iterator[BenchInstance]:
    """The instance kind `kind`, with a PostgreSQL server for the postgres kinds.

    Raises:
        ValueError: an unknown kind (the message lists the known ones).
    """
    if kind not in INSTANCES:
        raise ValueError(f"--instance {kind!r} is unknown: use one of {', '.join(INSTANCES)}")
    with ExitStack() as stack:
        server = stack.enter_context(throwaway_postgres()) if kind.startswith("postgres") else None
        yield BenchInstance(kind, server)
