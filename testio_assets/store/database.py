"""The store as a Dagster resource: the pipeline writes, readers read, never in each
other's way.

- The pipeline's reads and writes go through one writer connection per process and
  stretch of work (`writing()`, `writer.py`): a run's step holds it from its start to its
  end, and everything inside shares it (nested `writing()` blocks reuse the open one).
- Readers (`reading()`) open `TESTIO_DUCKDB_PATH` read-only: the copy the writer publishes
  after each run and every 30 s (`publication.py`). They never wait for the pipeline,
  and the pipeline never waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from testio_assets.store.errors import StoreError
from testio_assets.store.lake import (
    CONFLICT_ATTEMPTS,
    LakeFigures,
    is_conflict,
    lake_connection,
    maintain,
)
from testio_assets.store.publication import writer_path
from testio_assets.store.source import Source
from testio_assets.store.sql import run
from testio_assets.store.writer import (
    CATALOG,
    ROW_GROUP_SIZE,
    Writer,
    WriterOptions,
    lock_waits,
    open_writer,
)

__all__ = ["CATALOG", "ROW_GROUP_SIZE", "DuckDBStore", "StoreError", "lock_waits"]
T = TypeVar("T")

# Open writers of this process, by file, with how many blocks use each.
_open: dict[str, tuple[Writer, int]] = {}
_open_lock = threading.RLock()  # held while opening: one open per process at a time


class DuckDBStore(ConfigurableResource):
    """The project's DuckDB database (`TESTIO_DUCKDB_PATH`, what readers open)."""

    path: str = Field(default="data/testio.duckdb", description="the file readers open")
    lock_timeout_seconds: float = Field(
        default=300.0, description="how long to wait for another process's lock on the file"
    )
    threads: int = Field(
        default=1,
        description="DuckDB worker threads; writes here are many and small, and one thread "
        "leaves the other cores to HTTP and parsing",
    )
    memory_limit: str | None = Field(
        default=None,
        description="DuckDB's memory limit (its buffers; beyond it, it spills to disk); "
        "None keeps DuckDB's own, 80 % of RAM",
    )
    source: str | None = Field(
        default=None,
        description="whose data this database holds (`kind:name`, never a token); a write "
        "from another source is refused. None: not checked",
    )
    lake_catalog: str | None = Field(
        default=None,
        description="a DuckLake's catalog (a postgresql:// URL, TESTIO_DUCKLAKE_CATALOG) "
        "instead of the file",
    )
    lake_data_path: str | None = Field(
        default=None, description="the DuckLake's data files (TESTIO_DUCKLAKE_DATA_PATH)"
    )

    @property
    def writer_file(self) -> str:
        return writer_path(self.path)

    def _options(self) -> WriterOptions:
        return WriterOptions(
            published=self.path,
            writer=self.writer_file,
            lock_timeout_seconds=self.lock_timeout_seconds,
            threads=self.threads,
            memory_limit=self.memory_limit,
            source=Source.decode(self.source) if self.source else None,
            lake_catalog=_value(self.lake_catalog),
            lake_data_path=self.lake_data_path,
        )

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """The process's writer connection for the length of the block (opened by the
        outermost block, published and closed at its end)."""
        key = str(Path(self.writer_file).resolve())
        with _open_lock:
            found = _open.get(key)
            writer = found[0] if found is not None else open_writer(self._options())
            _open[key] = (writer, found[1] + 1 if found is not None else 1)
        try:
            yield writer
        finally:
            with _open_lock:
                held, users = _open[key]
                if users > 1:
                    _open[key] = (held, users - 1)
                else:
                    del _open[key]
            if users == 1:
                writer.close()

    def read(self, query: Callable[..., T], *args: Any) -> T:
        """`query(conn, *args)` on the pipeline's own, current data."""
        with self.writing() as writer:
            return writer.run(lambda conn: query(conn, *args))

    def write(self, writer_fn: Callable[..., T], *args: Any) -> T:
        """`writer_fn(conn, *args)` in one transaction of its own."""
        with self.writing() as writer:
            return writer.in_transaction(lambda conn: writer_fn(conn, *args))

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to what the pipeline last published.

        Raises:
            StoreError: nothing is published yet, or the file cannot be opened.
        """
        options = self._options()
        if options.lake:
            assert options.lake_catalog is not None and options.lake_data_path is not None
            conn = lake_connection(options.lake_catalog, options.lake_data_path, read_only=True)
        elif not Path(self.path).exists():
            raise StoreError(f"no database at {self.path} yet: run `testio-assets sync` first")
        else:
            try:
                conn = duckdb.connect(self.path, read_only=True)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open DuckDB file {self.path} to read: {exc}") from None
        try:
            run(conn, "SET TimeZone = 'UTC'")
            yield conn
        finally:
            conn.close()

    def maintain_lake(self, keep: timedelta) -> tuple[LakeFigures, LakeFigures]:
        """The DuckLake's upkeep (`lake.maintain`), run again when it meets a writer's
        commit. Figures before and after."""
        with self.writing() as writer:
            if not writer.options.lake:
                raise StoreError("the store is a DuckDB file, not a DuckLake: nothing to maintain")
            for attempt in range(1, CONFLICT_ATTEMPTS + 1):
                try:
                    return writer.run(lambda conn: maintain(conn, keep))
                except duckdb.Error as exc:
                    if not is_conflict(exc) or attempt == CONFLICT_ATTEMPTS:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

    def query(self, query: Callable[..., T], *args: Any) -> T:
        """`query(conn, *args)` on what the pipeline last published (for readers)."""
        with self.reading() as conn:
            return query(conn, *args)


def _value(value: str | None) -> str | None:
    """A setting given as `EnvVar` (so that Dagster's UI shows its name, not a password)
    read from the environment; a plain value as it is."""
    return value.get_value() if isinstance(value, EnvVar) else value
