"""Where a process's time goes: cumulative seconds per activity, for the benchmark.

Cheap enough to be always on (one `perf_counter` pair per measured block). Activities
overlap in wall time when work runs concurrently; they are CPU-bound activities measured
in the one thread that runs them, so their sum can be compared with the process's CPU time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

seconds: Counter[str] = Counter()


@contextmanager
def timed(activity: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[activity] += time.perf_counter() - started
