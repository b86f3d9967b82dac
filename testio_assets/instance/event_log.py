"""A faster SQLite event log for the project's Dagster instance (`dagster_home/dagster.yaml`).

Dagster's default SQLite event log creates a new SQLAlchemy engine and a new SQLite
connection for every event it stores, and closing that connection checkpoints the WAL.
A sync over hundreds of product partitions stores two events per partition and asset
(planned, then materialized), so that per-event cost (about 20 ms here) adds up to tens
of seconds. This subclass keeps one open connection per database file (the run's shard
and the cross-run index), which brings the cost to a few milliseconds. Everything else
(schema, layout on disk, what the webserver and daemon read) is Dagster's own.

The default location is Dagster's own, `$DAGSTER_HOME/history/runs`, so switching between
this class and the default storage keeps the history visible. `storage.py` uses it;
`tests/test_instance_storage.py` checks that it stores what Dagster's own class stores,
and fingerprints the Dagster code it stands in for.

Private Dagster names, and why: no public API lets a storage reuse connections or store a
batch of events in one transaction, so this extends the internal `SqliteEventLogStorage`
and its helpers. dagster-io/dagster#33832 (batch-write planned events, open) would cover
the batch part; no Dagster issue asks for pooled SQLite connections (the cost is the one
sqlalchemy/sqlalchemy#7490 describes for NullPool).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from typing import Any

from dagster import EventLogEntry, Field, StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

OPEN_SHARDS = 8  # the index plus the most recent runs' databases


def default_base_dir() -> str:
    home = os.environ.get("DAGSTER_HOME") or os.getcwd()
    return os.path.join(home, "history", "runs")


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    # In WAL mode NORMAL syncs at checkpoints instead of at every commit: a crash of the
    # process loses nothing, a power cut may lose the last events, never the database.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _is_asset_event(event: EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that reuses one SQLite connection per database file and
    stores a batch of events in one transaction."""

    def __init__(
        self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None
    ) -> None:
        # Set first: the parent's constructor already connects.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir or default_base_dir(), inst_data)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            # One connection, shared under `_db_lock` (held while it is in use), so it
            # may be used from the thread that holds the lock.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _relaxed_sync)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store a batch of one run's events, its asset events in one transaction per
        database.

        Dagster batches the planned events it logs when a run is created (one per asset
        and partition: 900 for the large profile's full sync, followed by one per check);
        stored one by one they took seconds before the run could start. Each stretch of
        asset events is stored here with the rows `store_event` writes; other events go
        through Dagster's own path; the batch's order is kept. Dagster batches only when
        `DAGSTER_EVENT_BATCH_SIZE` is set; `testio-assets` sets it for itself and for the
        `dg dev` it starts.
        """
        if len({event.run_id for event in events}) != 1:
            super().store_event_batch(events)
            return
        for is_asset_event, stretch in groupby(events, key=_is_asset_event):
            if is_asset_event:
                self._store_asset_events(list(stretch))
            else:
                super().store_event_batch(list(stretch))

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        """Asset events of one run, in one transaction per database."""
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        # Each event overwrites its asset's summary row in the index; when the batch is of
        # one event type, writing it for the last event of each asset ends in the same row.
        last_of_asset = {
            event.dagster_event.asset_key: index  # type: ignore[union-attr]
            for index, event in enumerate(events)
        }
        one_type = len({event.dagster_event_type for event in events}) == 1
        with self.index_transaction() as conn:
            for index, (event, statement) in enumerate(zip(events, statements, strict=True)):
                with db_result(conn, statement) as result:
                    event_id = result.inserted_primary_key[0]
                self._store_asset_event_tags(conn, [event], [event_id])
                asset_key = event.dagster_event.asset_key  # type: ignore[union-attr]
                if not one_type or last_of_asset[asset_key] == index:
                    self._store_asset_event(conn, event, event_id)

    def has_table(self, table_name: str) -> bool:
        """Whether the index has `table_name`, asked once per table: Dagster asks before
        every asset check evaluation it stores, on a connection of its own each time."""
        if table_name not in self._tables:
            # Dagster's own look-up, on a connection of its own: it is asked while the
            # shared index connection may be in use by the caller.
            if not super().has_table(table_name):
                return False  # not cached: a migration may add it
            self._tables.add(table_name)
        return True

    def dispose(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()
