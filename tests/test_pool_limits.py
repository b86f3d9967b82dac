"""Processes starting together on a shared PostgreSQL instance: they set up the `duckdb`
pool once, and create Dagster's tables once.

The races behind two CI failures, each made on purpose here. The pool
(`testio_assets/pool_limits.py`): another process has written the pool's row in a
transaction not yet committed when this one sets the pool up; a second connection holds
that transaction open while the storage's call waits on it, then commits. The tables
(`project_storage.schema_lock`): another process holds the lock while this one builds its
storage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from testio_assets.instance.storage import postgres_storage, schema_lock
from tests.conftest import postgres_database
from tests.test_instance_storage import _instance

POOL = "duckdb"


def _set_up_while_another_process_does(
    storage: Any, url: str, set_up: Callable[[Any, str], bool]
) -> BaseException | None:
    """Run `set_up(storage, POOL)` while another connection writes the pool (row and slot)
    in an open transaction, committed once the call waits; what the call raised."""
    from dagster._core.storage.event_log.schema import ConcurrencyLimitsTable

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    raised: list[BaseException] = []

    def call() -> None:
        try:
            set_up(storage, POOL)
        except BaseException as error:  # handed to the test
            raised.append(error)

    try:
        with engine.connect() as other, other.begin():
            other.execute(
                ConcurrencyLimitsTable.insert().values(
                    concurrency_key=POOL, limit=1, using_default_limit=True
                )
            )
            storage._allocate_concurrency_slots(other, POOL, 1)
            caller = threading.Thread(target=call)
            caller.start()
            time.sleep(1.0)
            assert caller.is_alive(), "the call did not wait for the other transaction"
        caller.join(30)
        assert not caller.is_alive()
    finally:
        engine.dispose()
    return raised[0] if raised else None


@pytest.mark.parametrize("connections", ["pooled", "stock"])
def test_a_pool_written_meanwhile_by_another_process_is_kept(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    connections: str,
) -> None:
    url = postgres_database(request)
    monkeypatch.setenv("TESTIO_DAGSTER_POSTGRES_URL", url)
    with _instance(tmp_path / "home", connections, monkeypatch) as instance:
        storage = instance.event_log_storage
        raised = _set_up_while_another_process_does(
            storage, url, type(storage).initialize_concurrency_limit_to_default
        )
        assert raised is None, repr(raised)
        info = storage.get_concurrency_info(POOL)
        assert (info.limit, info.slot_count, info.using_default_limit) == (1, 1, True)
        # The pool works: a step takes its one slot, and a second step waits.
        first = storage.claim_concurrency_slot(POOL, "run-a", "step")
        second = storage.claim_concurrency_slot(POOL, "run-b", "step")
        assert (first.is_claimed, second.is_claimed) == (True, False)


def test_dagsters_own_set_up_fails_on_that_interleaving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """What `pool_limits.initialize_pool_limit` replaces (dagster-io/dagster#33552): the
    same interleaving fails the call, as it failed a CI run's step."""
    url = postgres_database(request)
    monkeypatch.setenv("TESTIO_DAGSTER_POSTGRES_URL", url)
    with _instance(tmp_path / "home", "pooled", monkeypatch) as instance:
        raised = _set_up_while_another_process_does(
            instance.event_log_storage,
            url,
            SqlEventLogStorage.initialize_concurrency_limit_to_default,
        )
    # The UPDATE after the failed INSERT, in the transaction PostgreSQL has aborted.
    assert isinstance(raised, sqlalchemy.exc.DBAPIError)
    assert "current transaction is aborted" in str(raised)
    chain = []
    while raised is not None:
        chain.append(str(raised))
        raised = raised.__context__
    assert any("concurrency_limits_concurrency_key_key" in text for text in chain), chain


def test_processes_starting_together_create_the_tables_one_at_a_time(
    request: pytest.FixtureRequest,
) -> None:
    """While one process holds the schema lock, another building the storage on the same
    new database waits for it instead of creating tables beside it (which failed with
    "type run_tags already exists"), then finds the tables."""
    url = postgres_database(request)
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    built: list[object] = []
    try:
        with schema_lock(url):
            builder = threading.Thread(target=lambda: built.append(postgres_storage(url, None)))
            builder.start()
            time.sleep(1.5)
            assert builder.is_alive(), "the storage was built without waiting for the lock"
            assert "runs" not in sqlalchemy.inspect(engine).get_table_names()
        builder.join(60)
        assert built and "runs" in sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()
