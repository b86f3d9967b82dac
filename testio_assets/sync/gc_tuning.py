"""Garbage-collector settings for the bulk sync.

A sync allocates millions of short-lived objects (parsed records, row dicts) in a process
that already holds Dagster's large, long-lived object graph. With CPython's defaults a
collection runs every 700 net allocations and the older generations rescan that whole
graph again and again. Freezing what exists before the sync starts (it is not garbage)
and collecting the young generation less often saves a large share of the sync's CPU.
Reference cycles are still collected, only less often.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Within the block: objects alive at its start are frozen, the young-generation
    threshold is raised. Both are undone at its end."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
