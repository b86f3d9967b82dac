"""Where a process's time goes: cumulative seconds per activity, for the benchmark.

Cheap enough to be always on (one `perf_counter` pair per measured block). Activities
overlap in wall time when work runs concurrently; they are CPU-bound activities measured
in the one thread that runs them, so their sum can be compared with the process's CPU time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

seconds: Counter[str] = Counter()
PEAK_RSS = "peak RSS (MiB)"  # this process's own peak (`own_peak_rss_mib`)
WORKER_RSS = "worker RSS (MiB)"  # the parse worker's own peak, reported when it stops
peaks: dict[str, float] = {}  # the largest value seen, per figure (say, a worker's peak RSS)


def record_peak(figure: str, value: float) -> None:
    peaks[figure] = max(peaks.get(figure, 0.0), value)


def own_peak_rss_mib() -> float:
    """This process's peak RSS: the kernel's high-water mark for its own memory (VmHWM).

    Not `ru_maxrss`: Linux carries that across `exec`, so a process started by a large
    one (the benchmark, which serves the simulator's whole account from its own memory;
    a sync that spawns its parse worker) reports at least its parent's size at the fork.
    0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def _accumulated(figure: str, clock: Callable[[], float]) -> Iterator[None]:
    """Add the time `clock` advances within the block to `figure`."""
    started = clock()
    try:
        yield
    finally:
        seconds[figure] += clock() - started


def timed(activity: str) -> AbstractContextManager[None]:
    """Add the wall time spent within the block to `activity`."""
    return _accumulated(activity, time.perf_counter)


# Threads whose CPU is counted on their own (`thread_cpu`): the engine's (HTTP, JSON,
# validation, staging, checks) and the database session's (DuckDB). The rest of the
# process's CPU is the main thread's: Dagster, and the analytics rebuilt at a step's end.
ENGINE_CPU = "engine thread CPU"
DUCKDB_CPU = "duckdb thread CPU"


def thread_cpu(figure: str) -> AbstractContextManager[None]:
    """Add the CPU this thread spends within the block to `figure`."""
    return _accumulated(figure, time.thread_time)


def render_process_timings() -> str:
    """CPU-bound activities of this process and its total CPU and peak memory."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = ["timings (cumulative seconds in this process):"]
    lines += [f"  {name:<20}{value:8.2f}" for name, value in seconds.most_common()]
    lines.append(f"  {'process CPU':<20}{usage.ru_utime + usage.ru_stime:8.2f}")
    lines.append(f"  {PEAK_RSS:<20}{own_peak_rss_mib():8.0f}")
    # The bug-page parsing worker, if the sync started one (it has ended by now). Its peak
    # is the one it reported itself (`own_peak_rss_mib`, asked before it stopped).
    if WORKER_RSS in peaks:
        worker = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines.append(f"  {'worker CPU':<20}{worker.ru_utime + worker.ru_stime:8.2f}")
        lines.append(f"  {WORKER_RSS:<20}{peaks[WORKER_RSS]:8.0f}")
    return "\n".join(lines)
