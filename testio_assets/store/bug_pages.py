"""Bug pages to staged rows, in a worker process when a sync is large.

Bugs are most of what a sync downloads (85k of them, 1.3 kB each, on the large profile),
and turning their JSON into rows (validation, then Arrow) is the largest piece of Python
work in a run. In one process that work holds the interpreter lock the HTTP event loop
and Dagster's event writes need, and every request waits for it. `BugPageParser` can do
it in a worker process instead: the body goes there as bytes and the rows come back as
Arrow IPC, so nothing but bytes crosses (pickling parsed models back would cost as much
as parsing them). Small runs parse in-process: starting a worker costs about a second.

The worker is started with `spawn`, which imports the parent's `__main__` module again
unless it is a package's `__main__` (as in `python -m dagster ...`). Scripts that run a
bulk sync must keep their work under `if __name__ == "__main__":`, as the `testio-assets`
and `dagster` commands do.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

import pyarrow as pa

from testio_assets.api.models import Bug
from testio_assets.api.validation import Rejected, validate_list
from testio_assets.store.rows import bug_rows

log = logging.getLogger("testio_assets.store")


def bug_page_rows(
    content: bytes, product_id: int, now: datetime
) -> tuple[pa.Table, list[Rejected]]:
    """A `/bugs` body as rows of the `bugs` table, and the records left out.

    Raises:
        NotAJsonObject, MissingKey: see `validate_list`.
    """
    bugs, _, rejected = validate_list(content, "bugs", Bug)
    return bug_rows(product_id, bugs, now), rejected


def _rows_as_ipc(content: bytes, product_id: int, now: datetime) -> tuple[bytes, list[Rejected]]:
    """`bug_page_rows`, run in the worker: the table travels back as Arrow IPC bytes."""
    table, rejected = bug_page_rows(content, product_id, now)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes(), rejected


def _ready() -> bool:
    return True


class BugPageParser:
    """Parses `/bugs` bodies into rows: in `workers` worker processes, or in this one (0)."""

    def __init__(self, workers: int = 0) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            # A fresh interpreter, not a fork: this process runs threads (Dagster's, the
            # database session's) whose locks a fork would copy in whatever state.
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            )
            self._pool.submit(_ready)  # start importing now, while the first pages load

    @property
    def in_worker(self) -> bool:
        return self._pool is not None

    async def parse(
        self, content: bytes, product_id: int, now: datetime
    ) -> tuple[pa.Table, list[Rejected]]:
        if self._pool is None:
            return bug_page_rows(content, product_id, now)
        loop = asyncio.get_running_loop()
        ipc, rejected = await loop.run_in_executor(
            self._pool, _rows_as_ipc, content, product_id, now
        )
        return pa.ipc.open_stream(ipc).read_all(), rejected

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
