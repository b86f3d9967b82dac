"""Running a sync on its own thread while the caller reports each result as it arrives.

A Dagster step is a plain generator: it can only yield on its own thread. The sync is
asyncio, so it runs in a thread of its own and hands each finished (asset, product,
report) over a queue; the step yields a materialization for each while the sync goes on,
so Dagster's event writes overlap the HTTP work instead of waiting for its end.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar

from testio_assets.sync.report import ReportCallback, StepReport
from testio_assets.timings import ENGINE_CPU, thread_cpu

ResultT = TypeVar("ResultT")
Item = tuple[str, int, StepReport]


class BackgroundSync(Generic[ResultT]):
    """`start(on_report) -> coroutine`, run on a thread; iterate for the reports, then
    read `result()` (which re-raises what the sync raised)."""

    def __init__(self, start: Callable[[ReportCallback], Coroutine[Any, Any, ResultT]]) -> None:
        self._start = start
        self._items: queue.Queue[Item | None] = queue.Queue()
        self._result: list[ResultT] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._work, name="testio-sync", daemon=True)

    def _work(self) -> None:
        try:
            report: ReportCallback = lambda *item: self._items.put(item)  # noqa: E731
            with thread_cpu(ENGINE_CPU):
                self._result.append(asyncio.run(self._start(report)))
        except BaseException as exc:  # handed to the caller's thread by `result()`
            self._error.append(exc)
        finally:
            self._items.put(None)

    def __iter__(self) -> Iterator[Item]:
        self._thread.start()
        while (item := self._items.get()) is not None:
            yield item
        self._thread.join()

    def has_ready(self) -> bool:
        """Whether another report is already waiting (the caller may batch until not)."""
        return not self._items.empty()

    def result(self) -> ResultT:
        if self._error:
            raise self._error[0]
        return self._result[0]
