"""A run's database work, done on one thread, holding the file only while work is waiting.

Opening a DuckDB file and closing it (which checkpoints) costs tens of milliseconds, far
more than one product's write. When many products are synced at once their reads and
writes queue up here: the worker opens the file when a job arrives, runs every job that is
waiting (each write its own transaction), and closes the file as soon as the queue is
empty, or after `max_hold_seconds` of continuous work so that another process waiting
for the lock gets its turn. Async code awaits jobs without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any, TypeVar

import duckdb

from testio_assets.store.database import DuckDBStore, transaction_on

log = logging.getLogger("testio_assets.store")
T = TypeVar("T")
_STOP = object()


class StoreSession:
    """Serialized access to the store for one run; see the module docstring."""

    def __init__(self, store: DuckDBStore, max_hold_seconds: float = 1.0) -> None:
        self._store = store
        self._max_hold = max_hold_seconds
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="duckdb-session", daemon=True)

    async def read(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `job(conn)` outside any transaction (for SELECTs)."""
        return await self._submit(job, transactional=False)

    async def write(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `job(conn)` in its own transaction: committed, or rolled back on error."""
        return await self._submit(job, transactional=True)

    async def _submit(
        self, job: Callable[[duckdb.DuckDBPyConnection], T], transactional: bool
    ) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, transactional, future, loop))
        return await future

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            try:
                # Same lock and lock-retry as every other connection of this process.
                with self._store.connect() as conn:
                    opened = time.monotonic()
                    while True:
                        self._run(conn, *item)
                        if time.monotonic() - opened > self._max_hold:
                            break
                        try:
                            item = self._jobs.get_nowait()
                        except queue.Empty:
                            break
                        if item is _STOP:
                            self._jobs.put(_STOP)
                            break
            except Exception as exc:  # opening failed: fail the job that was waiting
                if item is not _STOP:
                    _, _, future, loop = item
                    loop.call_soon_threadsafe(_settle, future, None, exc)

    def _run(
        self,
        conn: duckdb.DuckDBPyConnection,
        job: Callable[..., Any],
        transactional: bool,
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        scope = transaction_on(conn, self._store.path) if transactional else nullcontext()
        try:
            with scope:
                result = job(conn)
        except Exception as exc:
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@asynccontextmanager
async def store_session(store: DuckDBStore) -> AsyncIterator[StoreSession]:
    """A `StoreSession` for the duration of the block (the worker stops at its end)."""
    session = StoreSession(store)
    session.start()
    try:
        yield session
    finally:
        await asyncio.to_thread(session.stop)
