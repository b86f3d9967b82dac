"""Publishing the pipeline's database file to where readers open it.

The pipeline writes its own file, `<TESTIO_DUCKDB_PATH>.writer`, and holds it for as long
as it has work: DuckDB lets one process write a file, and a second process cannot even
open it read-only meanwhile. Readers (the CLI's read commands, notebooks, BI tools) open
`TESTIO_DUCKDB_PATH` itself, which the pipeline replaces with a consistent copy of its
file after each run and every `PUBLISH_EVERY_SECONDS` during a long one:

1. `CHECKPOINT`: every committed write is in the main file, the WAL empty;
2. copy that file next to the published one, flush it to disk;
3. rename the copy over the published file (atomic on one filesystem).

A reader holding the old file keeps reading it (its open handle keeps the old contents)
until it reconnects; a reader opening now gets the new one. Nobody waits for anybody.
A crash between a write and its publication loses nothing: the writer's file has it, and
its next session publishes it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from duckdb import DuckDBPyConnection

from testio_assets.store.sql import run
from testio_assets.timings import timed

PUBLISH_EVERY_SECONDS = 30.0  # the most readers lag behind a sync in progress
WRITER_SUFFIX = ".writer"


def writer_path(published: str) -> str:
    """The pipeline's own file for the published file `published`."""
    return published + WRITER_SUFFIX


def seed_writer(published: Path, writer: Path) -> bool:
    """Before the first write: a published file without a writer's file (written by an
    earlier release, or the writer's file deleted) becomes the writer's starting point.
    Returns whether it was copied."""
    if writer.exists() or not published.exists():
        return False
    _copy(published, writer)
    return True


def publish(conn: DuckDBPyConnection, catalog: str, writer: Path, published: Path) -> None:
    """Replace `published` with a consistent copy of the writer's file (see above).

    `conn` is the writer's connection, with no transaction open, attached as `catalog`.
    """
    with timed("duckdb publication"):
        run(conn, f"CHECKPOINT {catalog}")
        partial = published.with_name(f".{published.name}.{os.getpid()}.publishing")
        try:
            _copy(writer, partial)
            os.replace(partial, published)
        finally:
            partial.unlink(missing_ok=True)
        _sync_directory(published.parent)


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, length=8 * 2**20)
        dst.flush()
        os.fsync(dst.fileno())


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
