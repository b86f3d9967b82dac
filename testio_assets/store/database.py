"""Access to the DuckDB file: short-lived connections, lock-aware, migrated on first use.

DuckDB allows one writing process per file, and a second process cannot open the file at
all while a writer holds it. So the file is held only while there is work (a run's
session, `session.py`, closes it when idle or after a second of continuous work), and
opening retries with jittered waits while another process holds the lock. Overlapping
Dagster runs then take turns instead of failing.

The file is attached with row groups of `ROW_GROUP_SIZE` rows instead of DuckDB's 122,880.
Closing the file checkpoints it, and a checkpoint rewrites the last row group of every
table that grew: with the default size a sync that writes a few products at a time
rewrote up to 120,000 bugs (all their columns, lists and comments included) every
second, which cost 200+ MiB and up to 2 s for each such close. The size is not
stored in the file, so every connection attaches it this way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from dagster import ConfigurableResource
from pydantic import Field
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from testio_assets.store.schema import migrate
from testio_assets.store.sql import literal, run
from testio_assets.timings import timed

log = logging.getLogger("testio_assets.store")
T = TypeVar("T")

ROW_GROUP_SIZE = 16_384  # rows; a multiple of DuckDB's vector size (2,048)
CATALOG = "testio"  # the attached file's name in SQL (`USE`d, so tables need no prefix)

_migrated: set[str] = set()
# One connection at a time inside this process; across processes the file lock decides.
# Concurrent opens and closes of the same file from several threads share one DuckDB
# instance and have been seen to leave a connection without its Python table scans.
_process_lock = threading.RLock()


@dataclass
class LockWaits:
    """How often, and how long, this process waited for another process's file lock."""

    count: int = 0
    seconds: float = 0.0


lock_waits = LockWaits()


class StoreError(RuntimeError):
    """The database file cannot be used: names the path and the reason."""


def attach(path: str) -> duckdb.DuckDBPyConnection:
    """A connection to the database file `path`, attached with our row group size."""
    if path.startswith("md:"):  # MotherDuck (docs/deploy.md) stores it its own way
        return duckdb.connect(path)
    conn = duckdb.connect()
    try:
        run(conn, f"ATTACH {literal(path)} AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        run(conn, f"USE {CATALOG}")
    except BaseException:
        conn.close()
        raise
    return conn


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "conflicting" in text)


@contextmanager
def transaction_on(conn: duckdb.DuckDBPyConnection, path: str) -> Iterator[None]:
    """BEGIN ... COMMIT on `conn`; ROLLBACK on error, an I/O error named by file `path`."""
    with timed("duckdb writes"):
        run(conn, "BEGIN TRANSACTION")
        try:
            yield
            run(conn, "COMMIT")
        except BaseException as exc:
            with suppress(duckdb.Error):
                run(conn, "ROLLBACK")
            if isinstance(exc, duckdb.IOException):
                # A full disk or a file gone read-only: say which file; the previous rows
                # are intact because the transaction never committed.
                raise StoreError(f"writing to DuckDB file {path} failed: {exc}") from None
            raise


class DuckDBStore(ConfigurableResource):
    """The project's DuckDB database file (`TESTIO_DUCKDB_PATH`)."""

    path: str = Field(default="data/testio.duckdb", description="DuckDB database file")
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

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file (waiting out another process's lock), yield, close."""
        with _process_lock:
            conn = self._open()
            try:
                yield conn
            finally:
                try:
                    conn.close()
                except duckdb.Error as exc:  # e.g. a checkpoint on a full disk; the WAL keeps it
                    log.warning("closing DuckDB file %s: %s", self.path, exc)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self.connect() as conn, transaction_on(conn, self.path):
            yield conn

    def read(self, query: Callable[..., T], *args: Any) -> T:
        """`query(conn, *args)` on a connection of its own (for commands and checks)."""
        with self.connect() as conn:
            return query(conn, *args)

    def write(self, writer: Callable[..., T], *args: Any) -> T:
        """`writer(conn, *args)` in one transaction of its own."""
        with self.transaction() as conn:
            return writer(conn, *args)

    def _open(self) -> duckdb.DuckDBPyConnection:
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory for DuckDB file {self.path}: {exc.strerror or exc}"
            ) from None
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_conflict),
            wait=wait_random(0.02, 0.25),
            stop=stop_after_delay(self.lock_timeout_seconds),
            reraise=True,
        )
        started = time.monotonic()
        try:
            conn = retrying(attach, str(path))
            attempts = retrying.statistics.get("attempt_number", 1)
            if attempts > 1:
                lock_waits.count += 1
                lock_waits.seconds += time.monotonic() - started
                log.info(
                    "waited %.2f s (%d attempts) for another process's lock on %s",
                    time.monotonic() - started,
                    attempts,
                    self.path,
                )
        except duckdb.Error as exc:
            if _is_lock_conflict(exc):
                raise StoreError(
                    f"DuckDB file {self.path} stayed locked by another process for "
                    f"{self.lock_timeout_seconds:g} s"
                ) from None
            raise StoreError(f"cannot open DuckDB file {self.path}: {exc}") from None
        try:
            run(conn, "SET TimeZone = 'UTC'")
            run(conn, f"SET threads = {int(self.threads)}")
            if self.memory_limit:
                run(conn, "SET memory_limit = ?", [self.memory_limit])
            key = str(path.resolve())
            if key not in _migrated:
                applied = migrate(conn)
                if applied:
                    log.info("migrated %s: %d schema step(s) applied", self.path, applied)
                _migrated.add(key)
        except duckdb.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare DuckDB file {self.path}: {exc}") from None
        return conn
