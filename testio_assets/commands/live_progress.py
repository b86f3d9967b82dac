"""The live progress bar of `testio-assets sync` on a terminal (rich).

Without a terminal the run's log has one progress line every 10 s instead
(`sync/progress.py`); that line is in the Dagster UI's run log either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from testio_assets.sync.progress import LISTENERS, Progress


@contextmanager
def live_progress(enabled: bool) -> Iterator[None]:
    """Show a bar on stderr while the block runs (if `enabled`), fed by the sync steps."""
    if not enabled:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("syncing", total=1.0, detail="")

    def show(progress: Progress) -> None:
        products = min(progress.done.get(name, 0) for name in progress.expected)
        total = max(progress.expected.values())
        bar.update(
            task,
            completed=progress.fraction,
            detail=f"products {products}/{total} · {progress.requests:,} requests · "
            f"{progress.rows_changed:,} rows changed",
        )

    LISTENERS.append(show)
    try:
        with bar:
            yield
    finally:
        LISTENERS.remove(show)
