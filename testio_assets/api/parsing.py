"""Response bodies to validated records: the one path every list body takes.

`BodyParser.records` validates a body into models in this process. `BodyParser.shaped`
also hands the records to a `shape` function (say, into the rows of a table) where they
were validated, and only the shaped result travels on. That is what lets a large run move
the work into a worker process: bug pages are most of what a sync downloads, and
validating them there leaves the interpreter lock to the HTTP event loop. The body goes to
the worker as bytes and Arrow tables come back as Arrow IPC (pickling parsed models back
would cost as much as parsing them).

Whether a worker is used is decided here (`worker_for`), from the size of the run.
The worker is started with `spawn`, which imports the parent's `__main__` module again
unless it is a package's `__main__` (as in `python -m dagster ...`): scripts that run a
bulk sync keep their work under `if __name__ == "__main__":`, as our commands do.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pyarrow as pa

from testio_assets.api.models import ApiModel
from testio_assets.api.validation import Rejected, validate_list
from testio_assets.lean import never_pandas
from testio_assets.timings import WORKER_RSS, own_peak_rss_mib, record_peak

ModelT = TypeVar("ModelT", bound=ApiModel)
ResultT = TypeVar("ResultT")
# From this many products on, a run parses shaped pages in a worker process (a second of
# start-up, repaid many times over by a free interpreter lock).
WORKER_FROM_PRODUCTS = 20


@dataclass(frozen=True)
class Parsed(Generic[ResultT]):
    """What a list body held: the records (or their shape), how many were sent, and the
    records left out because they were malformed."""

    result: ResultT
    sent: int
    rejected: list[Rejected]


def worker_for(products: int, threshold: int = WORKER_FROM_PRODUCTS) -> bool:
    """Whether a run over `products` products parses shaped pages in a worker process."""
    return products >= threshold


def _shape(
    content: bytes, key: str, model: type[ModelT], shape: Callable[[list[ModelT]], Any]
) -> Parsed[Any]:
    items, sent, rejected = validate_list(content, key, model)
    return Parsed(shape(items), sent, rejected)


def _shape_in_worker(
    content: bytes, key: str, model: type[ModelT], shape: Callable[[list[ModelT]], Any]
) -> Parsed[Any]:
    parsed = _shape(content, key, model, shape)
    if not isinstance(parsed.result, pa.Table):
        return parsed
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, parsed.result.schema) as writer:
        writer.write_table(parsed.result)
    return Parsed(sink.getvalue().to_pybytes(), parsed.sent, parsed.rejected)


def _ready() -> bool:
    return True


class BodyParser:
    """Validates list bodies; shaped ones in a worker process when the run is large."""

    def __init__(self, use_worker: bool = False) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if use_worker:
            # A fresh interpreter, not a fork: this process runs threads (Dagster's, the
            # database session's) whose locks a fork would copy in whatever state.
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=never_pandas
            )
            self._pool.submit(_ready)  # start importing now, while the first pages load

    def records(self, content: bytes, key: str, model: type[ModelT]) -> Parsed[list[ModelT]]:
        """The valid records under `key`, in this process.

        Raises:
            NotAJsonObject, MissingKey: see `validate_list`.
        """
        items, sent, rejected = validate_list(content, key, model)
        return Parsed(items, sent, rejected)

    async def shaped(
        self,
        content: bytes,
        key: str,
        model: type[ModelT],
        shape: Callable[[list[ModelT]], ResultT],
    ) -> Parsed[ResultT]:
        """`shape(valid records)`, computed where the records were validated. `shape` must
        be picklable (a module-level function or a `functools.partial` of one)."""
        if self._pool is None:
            return _shape(content, key, model, shape)
        loop = asyncio.get_running_loop()
        parsed = await loop.run_in_executor(
            self._pool, _shape_in_worker, content, key, model, shape
        )
        if isinstance(parsed.result, bytes):
            return Parsed(
                pa.ipc.open_stream(parsed.result).read_all(), parsed.sent, parsed.rejected
            )
        return parsed

    def close(self) -> None:
        if self._pool is not None:
            with suppress(Exception):  # a broken or cancelled worker has no figure to give
                record_peak(WORKER_RSS, self._pool.submit(own_peak_rss_mib).result(10))
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
