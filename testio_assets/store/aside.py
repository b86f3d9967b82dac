"""Starting over without losing anything: the database's files are set aside, renamed
with the time, never deleted (`testio-assets sync --start-over`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from testio_assets.store.publication import writer_path


def set_aside(published: str) -> list[Path]:
    """Rename the published file, the writer's file and their WALs to
    `<name>.replaced-<UTC time>`; returns the new names."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for name in (
        published,
        f"{published}.wal",
        writer_path(published),
        f"{writer_path(published)}.wal",
    ):
        path = Path(name)
        if path.exists():
            target = path.with_name(f"{path.name}.replaced-{stamp}")
            path.rename(target)
            moved.append(target)
    return moved
