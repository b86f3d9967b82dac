"""A run's database work, done on one thread, in batches, through the process's writer.

DuckDB's cost is per statement and per transaction far more than per row. When many
products are synced at once their reads and writes queue up here, and the worker:

- writes the queued items of one batch writer (say, the bugs of twelve products) in one
  transaction with one set of statements; if that transaction fails it writes each item
  again on its own, so one product's bad data fails that product only (all-or-nothing
  per product, as if every item had its own transaction);
- runs reads one by one, in the order they came;
- publishes the file to readers when a publication is due (`publication.py`).

The writer connection is opened when the session starts and held until it ends (or
longer, when the step holds it): no open, close and checkpoint between batches. Jobs that
wait together come from coroutines that run concurrently, so any order among them is one
they could have had anyway. Async code awaits jobs without blocking the loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import duckdb

from testio_assets.store.database import DuckDBStore
from testio_assets.store.writer import Writer
from testio_assets.timings import DUCKDB_CPU, thread_cpu, timed

log = logging.getLogger("testio_assets.store")
T = TypeVar("T")
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
_STOP = object()

# A batch writer: the items of several callers -> one result per item, in order.
BatchWriter = Callable[[duckdb.DuckDBPyConnection, Sequence[ItemT]], Sequence[ResultT]]


@dataclass
class _Job(Generic[T]):
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    call: Callable[[duckdb.DuckDBPyConnection], T] | None = None
    writer: BatchWriter[Any, T] | None = None
    item: Any = None
    read_only: bool = False

    def settle(self, result: T | None, error: BaseException | None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


class StoreSession:
    """Serialized, batched access to the store for one run; see the module docstring."""

    def __init__(self, store: DuckDBStore, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="duckdb-session", daemon=True)
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._stack = ExitStack()
        self.batches = 0  # transactions of batch writers (for tests and timings)

    async def read(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `job(conn)` outside any transaction (for SELECTs)."""
        return await self._submit(call=job)

    async def write_batched(self, writer: BatchWriter[ItemT, ResultT], item: ItemT) -> ResultT:
        """Write `item` with `writer`, together with the other items queued for it.

        Returns this item's result, or raises this item's error: a failed batch is
        written again item by item, so other items' errors do not reach this caller.
        """
        return await self._submit(writer=writer, item=item)

    async def read_batched(self, reader: BatchWriter[ItemT, ResultT], item: ItemT) -> ResultT:
        """Answer `item` with `reader`, together with the other items queued for it (one
        set of statements for all of them; see `check_facts.py`)."""
        return await self._submit(writer=reader, item=item, read_only=True)

    async def _submit(self, **fields: Any) -> Any:
        loop = asyncio.get_running_loop()
        job: _Job[Any] = _Job(future=loop.create_future(), loop=loop, **fields)
        self._jobs.put(job)
        return await job.future

    def _work(self) -> None:
        with thread_cpu(DUCKDB_CPU):
            self._serve()

    def _serve(self) -> None:
        try:
            writer = self._stack.enter_context(self._store.writing())
        except BaseException as exc:  # opening failed: every job fails with its reason
            self._open_error = exc
            writer = None
        self._opened.set()
        while True:
            pending = [self._jobs.get()]
            stopping = pending[0] is _STOP
            stopping = self._take_waiting(pending) or stopping
            jobs = [job for job in pending if job is not _STOP]
            if writer is None:
                for job in jobs:
                    job.settle(None, self._open_error)
            else:
                self._run_all(writer, jobs)
                writer.publish()
            if stopping:
                return

    def _take_waiting(self, pending: list[Any]) -> bool:
        """Move every queued job into `pending`; True if a stop was queued."""
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return False
            pending.append(item)
            if item is _STOP:
                return True

    def _run_all(self, writer: Writer, jobs: list[_Job[Any]]) -> None:
        batches: dict[Any, list[_Job[Any]]] = {}
        for job in jobs:
            if job.writer is None:
                self._run_one(writer, job)
            else:
                batches.setdefault(job.writer, []).append(job)
        for batch_writer, group in batches.items():
            for start in range(0, len(group), self._max_batch):
                self._run_batch(writer, batch_writer, group[start : start + self._max_batch])

    def _run_one(self, writer: Writer, job: _Job[Any]) -> None:
        assert job.call is not None
        try:
            result = writer.run(job.call)
        except Exception as exc:
            job.settle(None, exc)
        else:
            job.settle(result, None)

    def _run_batch(
        self, writer: Writer, batch_writer: BatchWriter[Any, Any], jobs: list[_Job[Any]]
    ) -> None:
        try:
            results = self._batch_results(writer, batch_writer, jobs)
            self.batches += 1
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].settle(None, exc)
                return
            log.info("a batch of %d writes failed (%s); writing them one by one", len(jobs), exc)
            for job in jobs:
                self._run_batch(writer, batch_writer, [job])
            return
        for job, result in zip(jobs, results, strict=True):
            job.settle(result, None)

    def _batch_results(
        self, writer: Writer, batch_writer: BatchWriter[Any, Any], jobs: list[_Job[Any]]
    ) -> Sequence[Any]:
        items = [job.item for job in jobs]
        name = f"duckdb {batch_writer.__name__}"
        if jobs[0].read_only:  # a batched read needs no transaction of its own
            with timed(name):
                results = writer.run(lambda conn: batch_writer(conn, items))
        else:
            with timed(name):
                results = writer.in_transaction(lambda conn: batch_writer(conn, items))
        if len(results) != len(jobs):
            raise RuntimeError(f"{batch_writer.__name__} returned {len(results)} results")
        return results

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()
        self._stack.close()


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
