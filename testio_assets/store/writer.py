"""The pipeline's one connection to its database, held for as long as a process has work.

A process opens it once per stretch of work (a run's step, a command) and every read and
write of that stretch goes through it: no open, close and checkpoint per batch. Opening
waits while another process holds the file (DuckDB has one writer process), saying so
within 2 s and every 10 s after, with the holder's process id when DuckDB names it.

The first open migrates the schema and claims the file for this process's source
(`source.py`). In file mode the connection publishes its file to the readers' path
(`publication.py`) when it is due and when the stretch of work ends.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_random

from testio_assets.store.errors import StoreError
from testio_assets.store.lake import (
    CONFLICT_ATTEMPTS,
    ensure_lake_schema,
    is_conflict,
    lake_connection,
)
from testio_assets.store.publication import PUBLISH_EVERY_SECONDS, publish, seed_writer
from testio_assets.store.schema import migrate
from testio_assets.store.source import Source, check_source, record_source
from testio_assets.store.sql import literal, run
from testio_assets.timings import timed

log = logging.getLogger("testio_assets.store")
T = TypeVar("T")

ROW_GROUP_SIZE = 16_384  # rows; small row groups keep each checkpoint's rewrite small
CATALOG = "testio"  # the attached file's name in SQL (`USE`d, so tables need no prefix)
FIRST_WAIT_NOTICE_SECONDS = 2.0
WAIT_NOTICE_EVERY_SECONDS = 10.0


@dataclass
class LockWaits:
    """How often, and how long, this process waited for another process's lock."""

    count: int = 0
    seconds: float = 0.0


lock_waits = LockWaits()


@dataclass(frozen=True)
class WriterOptions:
    """How to open the writer: where, how long to wait, DuckDB's settings, whose data."""

    published: str
    writer: str
    lock_timeout_seconds: float = 300.0
    threads: int = 1
    memory_limit: str | None = None
    source: Source | None = None
    lake_catalog: str | None = None  # a DuckLake instead of a file (`lake.py`)
    lake_data_path: str | None = None

    @property
    def lake(self) -> bool:
        return bool(self.lake_catalog)

    @property
    def name(self) -> str:
        """What messages call the store (never with a password)."""
        return "the DuckLake" if self.lake else self.writer


@dataclass
class Writer:
    """An open writer connection; `run` and `transaction` serialize its users."""

    conn: duckdb.DuckDBPyConnection
    options: WriterOptions
    lock: threading.RLock = field(default_factory=threading.RLock)
    dirty: bool = False
    published_at: float = field(default_factory=time.monotonic)
    source_recorded: bool = False

    def run(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`job(conn)` outside any transaction (reads)."""
        with self.lock, timed("duckdb reads"):
            return job(self.conn)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN ... COMMIT; ROLLBACK on error, an I/O error named by the file."""
        with self.lock, timed("duckdb writes"):
            run(self.conn, "BEGIN TRANSACTION")
            try:
                if not self.source_recorded and self.options.source is not None:
                    # Whose data this is, with the first data written (a first sync that
                    # fails before writing anything claims nothing).
                    record_source(self.conn, self.options.source)
                yield self.conn
                run(self.conn, "COMMIT")
                self.source_recorded = True
            except BaseException as exc:
                with suppress(duckdb.Error):
                    run(self.conn, "ROLLBACK")
                if isinstance(exc, duckdb.IOException):
                    # A full disk or a file gone read-only: the previous rows are intact
                    # because the transaction never committed.
                    raise StoreError(
                        f"writing to DuckDB file {self.options.writer} failed: {exc}"
                    ) from None
                raise
            self.dirty = True

    def in_transaction(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`job(conn)` in one transaction; on a DuckLake, run again when its commit lost
        to another writer's (rolled back, nothing half-written)."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with self.transaction() as conn:
                    return job(conn)
            except duckdb.Error as exc:
                if not (self.options.lake and is_conflict(exc)) or attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("a commit conflicted with another writer's (attempt %d): again", attempt)
                time.sleep(random.uniform(0.01, 0.05 * attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def publish(self, force: bool = False) -> None:
        """Publish the file to readers if anything was written (and, unless `force`, the
        last publication is `PUBLISH_EVERY_SECONDS` old). A DuckLake needs none: readers
        read its last committed snapshot."""
        due = time.monotonic() - self.published_at >= PUBLISH_EVERY_SECONDS
        if self.options.lake or not self.dirty or not (force or due):
            return
        with self.lock:
            try:
                publish(self.conn, CATALOG, Path(self.options.writer), Path(self.options.published))
            except (OSError, duckdb.Error) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise StoreError(
                    f"publishing DuckDB file {self.options.published} to readers failed: "
                    f"{reason}. What was synced is kept in {self.options.writer}; readers "
                    "keep the previous copy until the next sync publishes."
                ) from None
            self.dirty = False
            self.published_at = time.monotonic()

    def close(self) -> None:
        try:
            self.publish(force=True)
        finally:
            with suppress(duckdb.Error):
                self.conn.close()


def open_writer(options: WriterOptions) -> Writer:
    """Open (waiting for another process's lock), migrate, check the source; see the
    module doc.

    Raises:
        StoreError: the file cannot be created or opened, or stayed locked.
        SourceMismatch: the file holds another source's data.
    """
    if options.lake:
        return _open_lake(options)
    writer, published = Path(options.writer), Path(options.published)
    try:
        writer.parent.mkdir(parents=True, exist_ok=True)
        seeded = seed_writer(published, writer)
        behind = readers_behind(writer, published)
    except OSError as exc:
        raise StoreError(f"cannot prepare DuckDB file {writer}: {exc.strerror or exc}") from None
    conn = _attach_waiting(options)
    try:
        run(conn, "SET TimeZone = 'UTC'")
        run(conn, f"SET threads = {int(options.threads)}")
        if options.memory_limit:
            run(conn, "SET memory_limit = ?", [options.memory_limit])
        applied = migrate(conn)
        if applied:
            log.info("migrated %s: %d schema step(s) applied", writer, applied)
        recorded = check_source(conn, options.source, options.published)
    except duckdb.Error as exc:
        conn.close()
        raise StoreError(f"cannot prepare DuckDB file {writer}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    opened = Writer(conn, options, source_recorded=recorded)
    # Readers get the file after a write; an upgraded or seeded file at once, and what a
    # process that crashed before its publication had written.
    opened.dirty = seeded or (applied > 0 and published.exists()) or behind
    if not published.exists() and recorded:
        opened.dirty = True
    return opened


def _open_lake(options: WriterOptions) -> Writer:
    """Attach the lake and bring its tables up to date; processes that start together on
    a new lake race to create its catalog and tables: the loser attaches again."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return _open_lake_once(options)
        except (StoreError, duckdb.Error) as exc:
            racing = "already exists" in str(exc) or is_conflict(exc)
            if (not racing or attempt == CONFLICT_ATTEMPTS) and isinstance(exc, duckdb.Error):
                raise StoreError(f"cannot prepare the DuckLake: {exc}") from None
            if not racing or attempt == CONFLICT_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.2 * attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _open_lake_once(options: WriterOptions) -> Writer:
    assert options.lake_catalog is not None and options.lake_data_path is not None
    conn = lake_connection(options.lake_catalog, options.lake_data_path, read_only=False)
    try:
        run(conn, "SET TimeZone = 'UTC'")
        if options.memory_limit:
            run(conn, "SET memory_limit = ?", [options.memory_limit])
        ensure_lake_schema(conn)
        recorded = check_source(conn, options.source, "the DuckLake")
    except BaseException:
        conn.close()
        raise
    return Writer(conn, options, source_recorded=recorded)


def readers_behind(writer: Path, published: Path) -> bool:
    """Whether the writer's file holds writes readers do not have: its WAL is not empty
    (closed without the checkpoint that precedes a publication) or it changed after the
    last publication (a process stopped between its checkpoint and its copy)."""
    wal = Path(f"{writer}.wal")
    if not writer.exists():
        return False
    if wal.exists() and wal.stat().st_size > 0:
        return True
    return published.exists() and writer.stat().st_mtime > published.stat().st_mtime


def _attach(path: str) -> duckdb.DuckDBPyConnection:
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


def holder_of(message: str) -> str:
    """'process 1234' when DuckDB's lock error names the holder's PID, else 'another process'."""
    found = re.search(r"PID (\d+)", message)
    return f"process {found.group(1)}" if found else "another process"


class _WaitNotices:
    """Says that the process waits: within 2 s, then every 10 s."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.started = time.monotonic()
        self.next_notice = FIRST_WAIT_NOTICE_SECONDS

    def __call__(self, state: RetryCallState) -> None:
        waited = time.monotonic() - self.started
        if waited + (state.upcoming_sleep or 0.0) < self.next_notice:
            return
        failure = state.outcome.exception() if state.outcome else None
        log.warning(
            "waiting for DuckDB file %s: %s holds it (%.0f s so far)",
            self.path,
            holder_of(str(failure)),
            waited,
        )
        self.next_notice += WAIT_NOTICE_EVERY_SECONDS


def _attach_waiting(options: WriterOptions) -> duckdb.DuckDBPyConnection:
    notices = _WaitNotices(options.writer)
    retrying = Retrying(
        retry=retry_if_exception(_is_lock_conflict),
        wait=wait_random(0.02, 0.25),
        stop=stop_after_delay(options.lock_timeout_seconds),
        before_sleep=notices,
        reraise=True,
    )
    try:
        conn = retrying(_attach, options.writer)
    except duckdb.Error as exc:
        if _is_lock_conflict(exc):
            raise StoreError(
                f"DuckDB file {options.writer} stayed locked by {holder_of(str(exc))} for "
                f"{options.lock_timeout_seconds:g} s"
            ) from None
        raise StoreError(f"cannot open DuckDB file {options.writer}: {exc}") from None
    attempts = retrying.statistics.get("attempt_number", 1)
    if attempts > 1:
        waited = time.monotonic() - notices.started
        lock_waits.count += 1
        lock_waits.seconds += waited
        log.warning("got DuckDB file %s after waiting %.1f s", options.writer, waited)
    return conn
