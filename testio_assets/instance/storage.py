"""The instance's storage, chosen by one setting: `TESTIO_DAGSTER_POSTGRES_URL`.

The shipped instance settings (`dagster_home/dagster.yaml`) name `ProjectStorage` as the
instance's storage. Every process that loads the instance (`testio-assets`, `dagster
dev`'s webserver and daemon, run workers) then gets:

- with the setting empty: Dagster's SQLite storage in `DAGSTER_HOME` (the same files and
  layout as Dagster's default), with the event log keeping its connections open
  (`instance_storage.PooledSqliteEventLogStorage`);
- with the setting a `postgresql://` URL: dagster-postgres's storage for runs, event log
  and schedules in that database, after checking that the server answers, keeping a
  small pool of connections open.

Both store a run's planned checks without repeating its partition list in every row
(`planned_checks.py`); PostgreSQL's sets up a pool's limit safely when runs start together
(`pool_limits.py`).

`connections: stock` in the config keeps Dagster's own connection handling instead (a new
connection per operation), for comparison (`testio-assets bench --instance`).

Private Dagster names, and why (`optimize_for_webserver`, the storages' own way to keep
connections open, is not documented either): a storage class named in dagster.yaml is Dagster's
documented plugin point, but Dagster exports neither the base classes it must extend
(`DagsterStorage` via `DagsterSqliteStorage`, `ConfigurableClassData`) nor another way to
pick the storage from an environment variable (dagster.yaml can read a value from the
environment, not choose between `sqlite` and `postgres`). What would replace them: an
exported storage base for custom storage classes; the closest Dagster issue is
dagster-io/dagster#26342 (custom storage classes in dagster.yaml), still open.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from dagster import DagsterInstance, Field, StringSource
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData

from testio_assets.instance.event_log import PooledSqliteEventLogStorage
from testio_assets.instance.planned_checks import store_planned_checks
from testio_assets.pool_limits import initialize_pool_limit
from testio_assets.postgres_url import CONNECT_TIMEOUT_SECONDS, check_postgres
from testio_assets.settings import SettingsError, load_settings

SCHEMA_LOCK_KEY = 0x74657374696F  # "testio": the advisory lock `schema_lock` takes


class ProjectStorage(DagsterSqliteStorage):
    """SQLite storage in `base_dir` with the pooled event log; `from_config_value` returns
    PostgreSQL storage instead when `TESTIO_DAGSTER_POSTGRES_URL` is set."""

    def __init__(
        self, base_dir: str, pooled: bool = True, inst_data: ConfigurableClassData | None = None
    ) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        if pooled:
            # Where Dagster's own SQLite storage keeps the event log, under `base_dir`.
            self._event_log_storage.dispose()
            runs = os.path.join(base_dir, "history", "runs", "")
            self._event_log_storage = PooledSqliteEventLogStorage(runs)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {
            "base_dir": Field(StringSource, is_required=False),
            "connections": Field(str, is_required=False, default_value="pooled"),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> DagsterStorage:
        mode = config_value.get("connections", "pooled")
        if mode not in ("pooled", "stock"):
            raise SettingsError(f"dagster.yaml: connections={mode!r}: use pooled or stock")
        url = load_settings().dagster_postgres_url
        if url:
            return postgres_storage(url, inst_data, pooled=mode == "pooled")
        base_dir = config_value.get("base_dir") or os.environ.get("DAGSTER_HOME") or os.getcwd()
        os.makedirs(base_dir, exist_ok=True)
        return cls(base_dir, pooled=mode == "pooled", inst_data=inst_data)


def postgres_storage(
    url: str, inst_data: ConfigurableClassData | None, pooled: bool = True
) -> DagsterStorage:
    """dagster-postgres's storage in the database at `url`, once the server answers.

    `pooled`: keep connections open, as Dagster's webserver does for itself
    (`optimize_for_webserver`, no statement timeout here). dagster-postgres otherwise opens
    a new connection, with its authentication, for every read and write: 4-9 times slower
    in our tests (docs/benchmarks.md). Also store planned checks the lean way
    (`planned_checks.py`). Either way, set up pool limits safely (`pool_limits.py`).

    Raises:
        SettingsError: one line naming the setting, the host and the reason.
    """
    from dagster_postgres import DagsterPostgresStorage

    check_postgres(url)
    # dagster-postgres installs psycopg2, while SQLAlchemy 2.1 reads a bare postgresql://
    # URL as psycopg 3: name the driver.
    scheme, rest = url.split("://", 1)
    driver_url = f"postgresql+psycopg2://{rest}" if "+" not in scheme else url
    with schema_lock(url):
        storage = DagsterPostgresStorage(driver_url, inst_data=inst_data)
    methods: dict[str, Callable[..., Any]] = {
        "initialize_concurrency_limit_to_default": initialize_pool_limit
    }
    if pooled:
        for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
            part.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=20)
        methods["_store_asset_check_evaluation_planned"] = store_planned_checks
    event_log = storage.event_log_storage
    event_log.__class__ = _with_methods(type(event_log), tuple(sorted(methods.items())))
    return storage


@cache
def _with_methods(base: type, methods: tuple[tuple[str, Callable[..., Any]], ...]) -> type:
    """A subclass of a library's storage class (dagster-postgres's event log) replacing
    only `methods`: the object its library's constructor built becomes one, as it was."""
    return type(base.__name__, (base,), dict(methods))


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold the project's advisory lock on the database at `url` (one process at a time).

    dagster-postgres creates its tables when a process finds them missing, and retries
    when another process created one meanwhile, but only on one of the errors PostgreSQL
    gives for that: processes starting together on a new database (the webserver and
    daemon of a fresh deployment, overlapping syncs) failed on "type run_tags already
    exists" (seen in this project's tests). Building the storage under this lock lets one
    process create the tables while the others wait and then find them.
    """
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.callproc("pg_advisory_lock", (SCHEMA_LOCK_KEY,))  # waits for it
        yield
    finally:
        conn.close()  # ending the session releases the lock


def storage_kind(instance: DagsterInstance) -> str:
    """'postgres' or 'sqlite': what `instance` keeps its event log in."""
    name = type(instance.event_log_storage).__name__
    return "postgres" if "Postgres" in name else "sqlite"


def open_instance() -> DagsterInstance:
    """The instance of `DAGSTER_HOME`, refused when it ignores `TESTIO_DAGSTER_POSTGRES_URL`
    (a dagster.yaml of its own that does not name `ProjectStorage`).

    Raises:
        SettingsError: the server cannot be used, or the instance is not where the setting
            says (the message names the file to fix).
    """
    wanted = "postgres" if load_settings().dagster_postgres_url else "sqlite"
    instance = DagsterInstance.get()
    found = storage_kind(instance)
    if found != wanted:
        config = os.path.join(os.environ.get("DAGSTER_HOME", ""), "dagster.yaml")
        instance.dispose()
        raise SettingsError(
            f"TESTIO_DAGSTER_POSTGRES_URL is {'set' if wanted == 'postgres' else 'empty'}, "
            f"but {config} configures {found} storage of its own: use the "
            "project's storage section (dagster_home/dagster.yaml) there"
        )
    return instance
